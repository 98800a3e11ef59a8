import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { inspect, promisify } from 'node:util';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { createS3Client } from '../../activities/storage/s3-client';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { artifactKey } from '../../activities/storage/artifact-location';
import { MlflowClient, mlflowClientFor } from '../../activities/tracking/mlflow-client';
import { loadSettings, type Settings } from '../../common/settings';
import { connectTemporal } from '../../common/temporal-unreachable';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';

export const REPO = path.resolve(__dirname, '../..');

export interface Stack {
  settings: Settings;
  nativeConnection: NativeConnection;
  connection: Connection;
  client: Client;
  mlflow: MlflowClient;
  close(): Promise<void>;
}

/** Connects to the test stack that global setup started; fails loudly if it is not there. */
export async function connectStack(): Promise<Stack> {
  const settings = loadSettings();
  Runtime.install({ logger: workerLogger(settings) });
  const nativeConnection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection, namespace: settings.temporal.namespace });
  return {
    settings,
    nativeConnection,
    connection,
    client,
    mlflow: mlflowClientFor(settings),
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/**
 * The in-process workers' log: warnings and errors (a skipped checkpoint upload, a retried
 * activity) go to `logs/test-workers.log` in the test stack's state folder with the test file
 * that logged them, for reading after a failed run (.ci/run keeps that folder); errors also to
 * stderr.
 */
function workerLogger(settings: Settings): DefaultLogger {
  const file = path.join(settings.stateDir, 'logs', 'test-workers.log');
  const testFile = path.relative(REPO, expect.getState().testPath ?? 'unknown');
  return new DefaultLogger('WARN', ({ level, message, meta, timestampNanos }) => {
    // every GPU worker says so at start: not news
    if (message.startsWith('No workflows registered')) return;
    const line = `${new Date(Number(timestampNanos / 1_000_000n)).toISOString()} [${level}] ${testFile}: ${message}${meta && Object.keys(meta).length ? ` ${inspect(meta, { depth: 3, breakLength: Infinity })}` : ''}`;
    if (level === 'ERROR') console.error(line);
    try {
      appendFileSync(file, `${line}\n`);
    } catch {
      // the state folder is gone (the stack was torn down): stderr had the errors
    }
  });
}

/** The workflow bundle, built once per test file (webpack takes seconds). */
export async function workflowBundle() {
  return { code: (await bundleWorkflowCode({ workflowsPath: require.resolve('../../workflows'), logger: quietLogger })).code };
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

/** Runs `fn` while all the given workers poll, then shuts them down. */
export async function withWorkers<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = workers;
  if (!first) return fn();
  return first.runUntil(() => withWorkers(rest, fn));
}

/** A train scenario for tests; `version` keeps workflow ids and run names apart between tests. */
export function trainScenario(opts: { version: string; dataPath: string; epochs?: number; batch?: number; minBatch?: number; customer?: string }): Scenario {
  return parseScenarioText(`
name: test-${opts.version}
version: ${opts.version}
type: train
site: { customer: ${opts.customer ?? 'test-co'}, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest, harness] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${opts.dataPath}, version: synthetic-1 }
environment: { device: cpu, seed: 0, workers: 0 }
training: { epochs: ${opts.epochs ?? 2}, batch_size: ${opts.batch ?? 8}, min_batch_size: ${opts.minBatch ?? 1}, learning_rate: 0.01, optimizer: SGD, plots: false }
`);
}

/** Object keys under a run's artifact folder in the bucket, relative to that folder. */
export async function artifactKeys(settings: Settings, artifactUri: string): Promise<string[]> {
  const s3 = createS3Client(settings.s3);
  const prefix = artifactKey(settings.s3, artifactUri, 'x').slice(0, -1);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: settings.s3.bucket, Prefix: prefix }));
  s3.destroy();
  return (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length)).sort();
}

/** Tag values of a run as a record. */
export function tagsOf(run: { data: { tags?: { key: string; value: string }[] } }): Record<string, string> {
  return Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
}

export function metricsOf(run: { data: { metrics?: { key: string; value: number }[] } }): Record<string, number> {
  return Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
}

/** The runs nested under a run (`mlflow.parentRunId`), in its experiment. */
export async function childRuns(stack: Stack, parentRunId: string) {
  const parent = await stack.mlflow.getRun(parentRunId);
  return stack.mlflow.searchRuns({ experimentIds: [parent.info.experiment_id], filter: `tags.mlflow.parentRunId = '${parentRunId}'` });
}

export function paramsOf(run: { data: { params?: { key: string; value: string }[] } }): Record<string, string> {
  return Object.fromEntries((run.data.params ?? []).map((t) => [t.key, t.value]));
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `check` returns a value (not undefined) or the timeout passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Generates the coloured-shapes detection dataset with the project's generator; returns its data.yaml. */
export async function syntheticDataset(settings: Settings, dir: string, opts: { train: number; val: number; classes: string[] }): Promise<string> {
  const { stdout } = await promisify(execFile)(settings.python, [
    path.join(REPO, 'executors/synthetic_dataset.py'), dir, '--train', String(opts.train), '--val', String(opts.val), '--size', '64', '--classes', opts.classes.join(','),
  ]);
  return stdout.trim();
}

export const FAKE_EXECUTOR = path.join(REPO, 'test/fixtures/fake_executor.py');
/** The stand-in for export and benchmark jobs (models are JSON files of their figures). */
export const FAKE_QUANT = path.join(REPO, 'test/fixtures/fake_quant.py');

/**
 * Runs `fn` with fresh workers (a worker runs once): control, and GPU with the fast stand-in
 * executors for training, export and benchmark and the given fault-injection environment.
 */
export async function withFakeGpu<T>(
  stack: Stack,
  opts: { bundle: Awaited<ReturnType<typeof workflowBundle>>; env?: Record<string, string>; mlflow?: MlflowClient; hosts?: number; slots?: number; devices?: string[] },
  fn: () => Promise<T>,
): Promise<T> {
  const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: opts.bundle, mlflow: opts.mlflow });
  const hosts = opts.hosts ?? 1;
  // a process may run one worker per task queue and connection: each simulated host has its own connection
  const connections = await Promise.all(Array.from({ length: hosts - 1 }, () => connectTemporal(stack.settings.temporal, (options) => NativeConnection.connect(options))));
  const gpu: Worker[] = [];
  for (let i = 0; i < hosts; i++) {
    const gpuSettings =
      hosts === 1 && opts.slots === undefined ? { ...stack.settings.gpu, devices: opts.devices ?? stack.settings.gpu.devices } : { ...stack.settings.gpu, hostId: `${stack.settings.gpu.hostId}-${i}`, slots: opts.slots ?? stack.settings.gpu.slots, devices: opts.devices ?? stack.settings.gpu.devices };
    gpu.push(
      ...(await createGpuWorkers({
        settings: { ...stack.settings, gpu: gpuSettings },
        connection: i === 0 ? stack.nativeConnection : connections[i - 1],
        client: stack.client,
        executors: { train: FAKE_EXECUTOR, export: FAKE_QUANT, benchmark: FAKE_QUANT },
        env: opts.env,
        heartbeatIntervalMs: 500,
      })),
    );
  }
  try {
    return await withWorkers([control, ...gpu], fn);
  } finally {
    for (const c of connections) await c.close();
  }
}
