import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';
import { ApiPath } from '../../server/api-paths';
import { gflow, GFLOW } from '../support/cli';
import { REPO } from '../support/harness';
import { ALPHA, BETA, DOCK, GAMMA, LAB, PAINT, WELD, writeTestFleet } from '../support/fleet-fixture';

/**
 * `gflow serve` as a user starts it (bin/gflow over dist/, its own process, port 0) against the
 * test stack's real MLflow holding the test fleet (test/support/fleet-fixture.ts): every route
 * answers exactly what `gflow metrics … --json` and `gflow alerts list --json` print for the same
 * query, the numbers are the fixture's (written here as literals), and a bad parameter is refused
 * by both with the same words, the API with a 400 naming the field.
 */

jest.setTimeout(180_000);

const settings = loadSettings();
const mlflow = new MlflowClient(settings.mlflow.url);

let server: ChildProcess;
let base: string;

/** Starts `gflow serve --port 0` and resolves with the address it prints. */
function serve(): Promise<string> {
  if (!existsSync(path.join(REPO, 'dist/cli/gflow.js'))) throw new Error('dist/cli/gflow.js is missing: run bash scripts/setup.sh (it builds dist/)');
  server = spawn(GFLOW, ['serve', '--port', '0'], { env: { ...process.env, MLFLOW_TRACKING_URI: settings.mlflow.url, TEMPORAL_ADDRESS: settings.temporal.address }, stdio: ['ignore', 'pipe', 'pipe'] });
  let printed = '';
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      printed += chunk.toString();
      const url = /fleet API and page at (http:\/\/\S+?)\/ /.exec(printed)?.[1];
      if (url) resolve(url);
    };
    server.stdout!.on('data', seen);
    server.stderr!.on('data', seen);
    server.once('exit', (code) => reject(new Error(`gflow serve exited with ${code}:\n${printed}`)));
  });
}

beforeAll(async () => {
  await writeTestFleet(mlflow);
  base = await serve();
});

afterAll(() => {
  server?.kill('SIGTERM');
});

async function api(route: string, query: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${route}?${new URLSearchParams(query).toString()}`);
  return { status: res.status, body: res.headers.get('content-type')?.startsWith('application/json') ? await res.json() : await res.text() };
}

/** The API's answer for the query and the CLI's `--json` for the same flags: the pair, to compare whole. */
async function both(route: string, command: string[], query: Record<string, string>): Promise<[unknown, unknown]> {
  const flags = Object.entries(query).flatMap(([name, value]) => [`--${name}`, value]);
  const cli = await gflow(settings, [...command, ...flags, '--json']);
  expect([cli.code, cli.stderr]).toEqual([0, '']);
  const res = await api(route, query);
  expect(res.status).toBe(200);
  return [res.body, JSON.parse(cli.stdout)];
}

type Row = { siteKey: string; task: string; champion: { version: string; metrics: Record<string, number> } | null; runsInWindow: number; bestCandidate: { version: string } | null };

it('answers summary, trend, comparison and alerts with the same numbers as the CLI', async () => {
  const [summary, cliSummary] = await both(ApiPath.summary, ['metrics', 'summary'], { customer: ALPHA, days: '7' });
  expect(summary).toEqual(cliSummary);
  expect((summary as Row[]).map((r) => [r.siteKey, r.task, r.champion?.version, r.champion?.metrics['det.mAP50'], r.champion?.metrics['sys.latency_ms_p95'], r.runsInWindow, r.bestCandidate?.version])).toEqual([
    [WELD, 'fall', '2', 0.82, 20, 4, '3'],
    [WELD, 'ppe', '2', 0.82, 20, 5, '3'],
    [PAINT, 'fall', '2', 0.82, 45, 4, '3'],
    [PAINT, 'ppe', '2', 0.82, 20, 4, '3'],
  ].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1]))));

  for (const by of ['run', 'day']) {
    const [trend, cliTrend] = await both(ApiPath.trend, ['metrics', 'trend'], { site: WELD, task: 'ppe', metric: 'mAP50', by });
    expect(trend).toEqual(cliTrend);
    const points = (trend as { points: ({ value: number } | { min: number; max: number })[] }).points;
    expect(points.map((p) => ('value' in p ? p.value : [p.min, p.max]))).toEqual(
      by === 'run'
        ? [0.7, 0.8, 0.76, 0.82, 0.85]
        : [
            [0.7, 0.7],
            [0.76, 0.8],
            [0.82, 0.82],
            [0.85, 0.85],
          ],
    );
  }

  const [versions, cliVersions] = await both(ApiPath.comparison, ['metrics', 'compare'], { site: DOCK, task: 'ppe', by: 'version' });
  expect(versions).toEqual(cliVersions);
  expect((versions as { key: string; metrics: Record<string, number> }[]).map((v) => [v.key.split('/').pop(), v.metrics['det.mAP50']])).toEqual([
    ['3', 0.85],
    ['2', 0.72],
    ['1', 0.9],
  ]);

  for (const customer of [ALPHA, BETA, GAMMA]) {
    const [found, cliFound] = await both(ApiPath.alerts, ['alerts', 'list'], { customer });
    expect(found).toEqual(cliFound);
    expect([customer, (found as { rule: string; siteKey: string; task: string }[]).map((a) => [a.rule, a.siteKey, a.task])]).toEqual(
      [customer, { [ALPHA]: [['HIGH_LATENCY', PAINT, 'fall']], [BETA]: [['LOW_ACCURACY', DOCK, 'ppe'], ['ACCURACY_DROP', DOCK, 'ppe']], [GAMMA]: [['NO_RECENT_RUN', LAB, 'fall']] }[customer]],
    );
  }
});

it('refuses a bad parameter as the CLI does, with a 400 naming the field', async () => {
  const res = await api(ApiPath.summary, { customer: ALPHA, task: 'helmet' });
  expect([res.status, res.body]).toEqual([400, { error: 'task: expected one of ppe, fall, fire, collision, stuck, got "helmet"', field: 'task' }]);
  const cli = await gflow(settings, ['metrics', 'summary', '--customer', ALPHA, '--task', 'helmet', '--json']);
  expect([cli.code, cli.stderr.trim()]).toEqual([2, 'gflow: --task: expected one of ppe, fall, fire, collision, stuck, got "helmet"']);
});

it('reports health, the links’ base URLs, and Prometheus gauges of the fleet', async () => {
  const health = (await api(ApiPath.health)).body as { status: string; mlflow: { url: string; reachable: boolean }; lastError: string | null };
  expect([health.status, health.mlflow, health.lastError]).toEqual(['ok', { url: settings.mlflow.uiUrl, reachable: true }, null]);
  expect((await api(ApiPath.config)).body).toEqual({ mlflowUrl: settings.mlflow.uiUrl, temporalUiUrl: settings.temporal.uiUrl, namespace: settings.temporal.namespace });
  const metrics = (await api(ApiPath.prometheus)).body as string;
  expect(metrics).toContain(`gflow_fleet_champion_latency_p95_ms{customer="${ALPHA}",site="${PAINT}",task="fall"} 45\n`);
  expect(metrics).toContain(`gflow_fleet_champion_map50{customer="${BETA}",site="${DOCK}",task="ppe"} 0.72\n`);
  expect(metrics).toContain(`gflow_fleet_open_alerts{customer="${BETA}",site="${DOCK}",task="ppe"} 2\n`);
});
