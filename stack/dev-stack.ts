import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { urlHost, type Settings } from '../common/settings';
import { temporalConnectionOptions } from '../common/temporal-connection';
import { deploymentVersion, setCurrentVersion } from '../common/worker-deployment';
import { PortInUseError, ServerMissingError, ServerStartError } from './errors';
import { isAlive, logFileOf, logTail, runningProcess, startDetached, stopProcess, type ProcessRecord } from './managed-process';
import { isPortFree } from './ports';
import { controlWorker, fleetServer, gpuWorker, mlflowServer, seaweedfsServer, temporalServer, type ServerSpec } from './servers';

export interface DevOptions {
  log: (line: string) => void;
  /** Also run the processes from `dist/`: a control worker, a GPU worker and the fleet API (the CLI's `dev up`; tests run their own). */
  workers?: boolean;
}

export interface ServerStatus {
  name: string;
  title: string;
  pid?: number;
  healthy: boolean;
  url?: string;
  logFile: string;
}

const servers = (settings: Settings) => [temporalServer(settings), seaweedfsServer(settings), mlflowServer(settings)];
/** The processes from `dist/`, started after the servers they use. */
const fromDist = (settings: Settings) => [controlWorker(settings), gpuWorker(settings), fleetServer(settings)];
const everything = (settings: Settings) => [...servers(settings), ...fromDist(settings)];

/**
 * Starts whatever part of the dev stack is not running yet and waits until each part is
 * healthy. If any part fails, the parts this call started are stopped again, so a failed
 * `up` leaves nothing half-running.
 */
export async function devUp(settings: Settings, opts: DevOptions): Promise<ServerStatus[]> {
  const started: ProcessRecord[] = [];
  try {
    await allOrFirstError(servers(settings).map((spec) => ensureRunning(settings, spec, started, opts.log)));
    if (opts.workers) await allOrFirstError(fromDist(settings).map((spec) => ensureRunning(settings, spec, started, opts.log)));
    // workers found running may be of another build: their deployment's current version stays as it is
    if (!opts.workers || started.some((r) => r.name === controlWorker(settings).name)) await makeBuildCurrent(settings, opts);
  } catch (err) {
    for (const record of started.reverse()) await stopProcess(settings.stateDir, record);
    throw err;
  }
  return devStatus(settings);
}

/** Stops the workers and the fleet API first, then the servers; a part that is not running is skipped. */
export async function devDown(settings: Settings, opts: Pick<DevOptions, 'log'>): Promise<void> {
  for (const spec of everything(settings).reverse()) {
    const record = await runningProcess(settings.stateDir, spec.name);
    if (!record) continue;
    await stopProcess(settings.stateDir, record);
    opts.log(`${spec.title} stopped (pid ${record.pid})`);
  }
}

export async function devStatus(settings: Settings): Promise<ServerStatus[]> {
  return Promise.all(
    everything(settings).map(async (spec) => {
      const record = await runningProcess(settings.stateDir, spec.name);
      return {
        name: spec.name,
        title: spec.title,
        pid: record?.pid,
        healthy: record ? await spec.ready(record.pid) : false,
        url: spec.url,
        logFile: logFileOf(settings.stateDir, spec.name),
      };
    }),
  );
}

/** Whether the workers' Temporal is the dev stack's own server: a profile or TEMPORAL_ADDRESS naming another (shared, production) one is never re-routed by `dev up`. */
export function isDevStackTemporal(settings: Settings): boolean {
  return settings.temporal.address === `${urlHost(settings.host)}:${settings.temporal.port}`;
}

/**
 * Makes this checkout's build the current version of the workers' deployment, so new workflows go
 * to the workers just started (or, without `workers`, to those a test or bench starts later with
 * the same build id: the benches call it, so a commit since `dev up` does not leave their workflows
 * waiting for an older build's workers). One machine's stack: task queues of an earlier build (another host id) may go.
 */
export async function makeBuildCurrent(settings: Settings, opts: DevOptions): Promise<void> {
  const version = deploymentVersion(settings);
  if (!isDevStackTemporal(settings)) {
    opts.log(`worker deployment ${version.deploymentName}: Temporal at ${settings.temporal.address} is not this dev stack's, its current version is left as it is (gflow version set-current)`);
    return;
  }
  const connection = await Connection.connect(temporalConnectionOptions(settings.temporal));
  try {
    const changed = await setCurrentVersion(connection.workflowService, settings.temporal.namespace, version, { allowNoPollers: !opts.workers, ignoreMissingTaskQueues: true });
    opts.log(`worker deployment ${version.deploymentName}: build ${version.buildId} ${changed ? 'is now' : 'was already'} the current version`);
  } finally {
    await connection.close();
  }
}

/** Waits for every start; rethrows the first failure only after all have settled (for rollback). */
async function allOrFirstError(starts: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

async function ensureRunning(settings: Settings, spec: ServerSpec, started: ProcessRecord[], log: (line: string) => void): Promise<void> {
  const existing = await runningProcess(settings.stateDir, spec.name);
  if (existing) {
    await waitReady(spec, existing);
    log(`${spec.title} already running (pid ${existing.pid})${spec.url ? ` at ${spec.url}` : ''}`);
    return;
  }
  if (!existsSync(spec.command)) throw new ServerMissingError(spec.title, spec.command);
  for (const { port, setting } of spec.ports) {
    if (!(await isPortFree(settings.host, port))) throw new PortInUseError(spec.title, port, setting);
  }
  await spec.prepare?.();
  const record = await startDetached({ name: spec.name, command: spec.command, args: spec.args, env: spec.env, cwd: settings.stateDir, stateDir: settings.stateDir });
  started.push(record);
  log(`${spec.title} starting (pid ${record.pid}, log ${record.logFile})`);
  await waitReady(spec, record);
  log(`${spec.title} ready${spec.url ? ` at ${spec.url}` : ''}`);
}

async function waitReady(spec: ServerSpec, record: ProcessRecord): Promise<void> {
  const deadline = Date.now() + spec.startTimeoutMs;
  while (Date.now() < deadline) {
    if (await spec.ready(record.pid)) return;
    if (!isAlive(record.pid)) {
      throw new ServerStartError(spec.title, record.logFile, 'the process exited', await logTail(record.logFile));
    }
    await sleep(500);
  }
  throw new ServerStartError(spec.title, record.logFile, `not healthy after ${spec.startTimeoutMs / 1000} s`, await logTail(record.logFile));
}
