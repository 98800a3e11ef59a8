import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { mlflowClientFor, MlflowUnreachableError } from '../activities/tracking/mlflow-client';
import { urlHost, type Settings } from '../common/settings';
import { openFleetStore } from '../fleet';
import { ApiPath } from '../server/api-paths';
import { buildFleetServer } from '../server/app';
import { SnapshotCache } from '../server/snapshot-cache';
import { CliError } from './cli-error';
import { alertRulesFrom } from './metrics-commands';
import { readPool } from './pool';
import { connect } from './temporal';

/**
 * `gflow serve`: the fleet HTTP API and page (server/app.ts) over the settings' MLflow, on
 * loopback unless `--host` says otherwise. One fleet store for the process, refreshed
 * incrementally at most every GF_FLEET_REFRESH_S seconds; runs until SIGINT or SIGTERM.
 */
export function registerServeCommand(program: Command, settings: Settings): void {
  program
    .command('serve')
    .description(`the fleet HTTP API (${ApiPath.summary}, …, ${ApiPath.prometheus}, ${ApiPath.openapi}) and the fleet page at /`)
    .option('--port <port>', `the port (GF_FLEET_PORT, now ${settings.fleet.port}; 0: any free one)`)
    .option('--host <host>', `the address to listen on (GF_HOST, now ${settings.host}); 0.0.0.0 exposes it to the network`)
    .option('--rules <file>', 'alert thresholds (default: ./alerts.yaml when present, else the built-in defaults)')
    .action(async (opts: { port?: string; host?: string; rules?: string }) => {
      const port = opts.port === undefined ? settings.fleet.port : portFrom(opts.port);
      const host = opts.host ?? settings.host;
      const { file, rules } = await alertRulesFrom(opts.rules);
      const mlflow = mlflowClientFor(settings, 10_000);
      const cache = new SnapshotCache(openFleetStore(settings, mlflow), settings.fleet.refreshSeconds * 1000);
      const app = await buildFleetServer({
        snapshot: () => cache.get(),
        lastError: () => cache.lastError,
        // any answer, even "no such experiment", means MLflow is there
        mlflowReachable: () => mlflow.getExperimentByName('Default').then(
          () => true,
          (err: unknown) => !(err instanceof MlflowUnreachableError),
        ),
        rules,
        links: { mlflowUrl: settings.mlflow.uiUrl, temporalUiUrl: settings.temporal.uiUrl, namespace: settings.temporal.namespace },
        publicDir: path.join(settings.repoRoot, 'server', 'public'),
        // one Temporal connection per request: the fleet answers even while Temporal is down
        pool: async (pool) => {
          const { client, close } = await connect(settings).catch((err: unknown) => {
            throw Object.assign(new Error(err instanceof Error ? err.message : String(err), { cause: err }), { statusCode: 503 });
          });
          try {
            return await readPool(client, pool ?? settings.gpu.pool);
          } finally {
            await close();
          }
        },
        logger: true,
      });
      await app.listen({ port, host }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') throw new CliError(`port ${port} on ${host} is already in use; stop that process or choose another port with --port or GF_FLEET_PORT`, 1, { cause: err });
        throw err;
      });
      const bound = (app.server.address() as AddressInfo).port;
      console.log(`fleet API and page at http://${urlHost(host)}:${bound}/ (MLflow ${settings.mlflow.url}, refresh every ${settings.fleet.refreshSeconds} s, rules: ${file ?? 'built-in defaults'})`);
      // the first full read starts now, not with the first visitor; a failure shows in /api/health
      void cache.get().catch(() => undefined);
      const stop = () => void app.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

function portFrom(value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port > 65535) throw new CliError(`--port: expected a port number from 0 to 65535, got ${JSON.stringify(value)}`, 2);
  return port;
}
