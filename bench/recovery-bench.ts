import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { MlflowClient, mlflowClientFor } from '../activities/tracking/mlflow-client';
import { timestampMs } from '../cli/gpu-jobs';
import { CONTROL_QUEUE, progressQuery, WorkflowType } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { workflowId } from '../scenarios/naming';
import { parseScenarioText } from '../scenarios/loader';
import type { singleRun } from '../workflows/single-run';
import { createControlWorker } from '../workers/control';
import { envInt, envSeconds, machineAtStart, REPO, round3, saveResults, useThisBuild } from './bench-env';

/**
 * Recovery from a lost GPU host: a training (the stand-in, fixed epoch duration) runs on GPU
 * host A; mid-epoch A's worker is SIGKILLed; host B (another GF_GPU_HOST_ID, already polling the
 * pool) takes the retried job once the heartbeat timeout has passed and resumes from the last
 * checkpoint. Measures the time from the kill to the job running again on B, to the first
 * resumed epoch in MLflow, and the epochs done twice.
 * Both "hosts" are processes of this machine: B reads A's checkpoint from the shared disk.
 * Needs the dev stack (`gflow dev up`). Env: BENCH_REPEATS (3), BENCH_EPOCHS (20),
 * BENCH_EPOCH_SECONDS (2), BENCH_KILL_AT_EPOCH (5), BENCH_HEARTBEAT_TIMEOUT_S (10).
 */

const REPEATS = envInt('BENCH_REPEATS', 3);
const EPOCHS = envInt('BENCH_EPOCHS', 20);
const EPOCH_S = envSeconds('BENCH_EPOCH_SECONDS', 2);
const KILL_AT = envInt('BENCH_KILL_AT_EPOCH', 5);
const HEARTBEAT_TIMEOUT_S = envInt('BENCH_HEARTBEAT_TIMEOUT_S', 10);
const POOL = 'bench-recovery';
const PENDING_STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

interface Row {
  repeat: number;
  /** Host A's last heartbeat the server had, relative to the kill (negative: before it). */
  last_heartbeat_s: number;
  /** Kill → the retry scheduled: A's last heartbeat + the heartbeat timeout + the retry policy's first interval (1 s). */
  retry_scheduled_s: number;
  /** Kill → the retried training job started on host B: the figure the goal is about. */
  running_again_s: number;
  /** Kill → the first epoch of the resumed training logged in MLflow (includes one epoch of work). */
  first_resumed_epoch_logged_s: number;
  last_epoch_before_kill: number;
  first_epoch_after_kill: number;
  /** Completed epochs trained twice (0 when B resumed from A's last checkpoint). */
  epochs_redone: number;
  /** The part of the epoch running at the kill, lost, in epochs. */
  partial_epoch_lost: number;
  resumed_on: string;
  run_status: string;
}

/** One GPU host as its own process (bench/gpu-host.ts), ready once it polls. */
async function startHost(settings: Settings, hostId: string, work: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(REPO, 'dist/bench/gpu-host.js')], {
    env: { ...process.env, GF_GPU_POOL: POOL, GF_GPU_HOST_ID: hostId, GF_GPU_SLOTS: '1', GF_WORK_DIR: path.join(work, hostId), GF_FAKE_EPOCH_SECONDS: String(EPOCH_S), GF_STATE_DIR: settings.stateDir },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let waited = 0; !out.includes('GPU host ready'); waited += 100) {
    if (child.exitCode !== null || waited > 60_000) throw new Error(`GPU host ${hostId} did not start: ${out}`);
    await sleep(100);
  }
  return child;
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function trainActivity(handle: WorkflowHandle) {
  const { raw } = await handle.describe();
  return raw.pendingActivities?.find((a) => a.activityType?.name === 'train');
}

/** One training, one kill, one recovery; the figures of this repeat. */
async function recoverOnce(client: Client, mlflow: MlflowClient, settings: Settings, work: string, repeat: number): Promise<Row> {
  const scenario = parseScenarioText(`
name: bench-recovery
version: r${Date.now()}
type: train
site: { customer: bench, region: local, plant: lab, zone: recovery }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: none }
environment: { device: cpu, workers: 0, gpu_pool: ${POOL} }
training: { epochs: ${EPOCHS}, batch_size: 16, learning_rate: 0.01, plots: false }
`);
  const hostA = await startHost(settings, `bench-host-a${repeat}`, work);
  const handle = await client.workflow.start<typeof singleRun>(WorkflowType.singleRun, {
    taskQueue: CONTROL_QUEUE,
    workflowId: workflowId(scenario),
    args: [{ scenario, gpuHeartbeatTimeout: `${HEARTBEAT_TIMEOUT_S}s` }],
  });
  const hostB = await startHost(settings, `bench-host-b${repeat}`, work);
  try {
    await until(`epoch ${KILL_AT}`, 120_000 + KILL_AT * EPOCH_S * 1000, async () => ((await handle.query(progressQuery)).training?.epoch ?? 0) >= KILL_AT || undefined);
    await sleep((EPOCH_S * 1000) / 2);
    const killedAt = Date.now();
    hostA.kill('SIGKILL');
    await once(hostA, 'exit');

    const restarted = await until('the job to start again', (HEARTBEAT_TIMEOUT_S + 120) * 1000, async () => {
      const job = await trainActivity(handle);
      return job && job.attempt! >= 2 && job.state === PENDING_STARTED ? job : undefined;
    });
    const result = await handle.result();
    const run = await mlflow.getRun(result.runId);
    const points = (await mlflow.getMetricHistory(result.runId, 'det.box_loss')).sort((a, b) => a.timestamp - b.timestamp);
    const before = points.filter((p) => p.timestamp <= killedAt);
    const after = points.filter((p) => p.timestamp > killedAt);
    const lastBefore = Math.max(0, ...before.map((p) => p.step));
    const firstAfter = Math.min(...after.map((p) => p.step));
    const lastBeforeAt = before.length ? before[before.length - 1].timestamp : killedAt;
    const steps = new Set(points.map((p) => p.step));
    if (steps.size !== EPOCHS) throw new Error(`run ${result.runId}: epochs ${[...steps].join(',')} logged, expected 1..${EPOCHS}`);
    return {
      repeat,
      last_heartbeat_s: round3((timestampMs(restarted.lastHeartbeatTime) - killedAt) / 1000),
      retry_scheduled_s: round3((timestampMs(restarted.scheduledTime) - killedAt) / 1000),
      running_again_s: round3((timestampMs(restarted.lastStartedTime) - killedAt) / 1000),
      first_resumed_epoch_logged_s: round3((after[0].timestamp - killedAt) / 1000),
      last_epoch_before_kill: lastBefore,
      first_epoch_after_kill: firstAfter,
      epochs_redone: Math.max(0, lastBefore - firstAfter + 1),
      partial_epoch_lost: round3((killedAt - lastBeforeAt) / 1000 / EPOCH_S),
      resumed_on: restarted.lastWorkerIdentity ?? '',
      run_status: run.info.status,
    };
  } finally {
    if (hostA.exitCode === null) hostA.kill('SIGKILL');
    hostB.kill('SIGTERM');
    await once(hostB, 'exit');
  }
}

async function main(): Promise<void> {
  const machine = machineAtStart();
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const settings = loadSettings();
  await useThisBuild(settings);
  const work = await mkdtemp(path.join(os.tmpdir(), 'gflow-bench-recovery-'));
  const nativeConnection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection, namespace: settings.temporal.namespace });
  const mlflow = mlflowClientFor(settings);
  const control = await createControlWorker({ settings, connection: nativeConnection });
  const rows: Row[] = [];
  try {
    await control.runUntil(async () => {
      for (let repeat = 1; repeat <= REPEATS; repeat++) {
        rows.push(await recoverOnce(client, mlflow, settings, work, repeat));
        console.log(JSON.stringify(rows[rows.length - 1]));
      }
    });
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
  const limit = HEARTBEAT_TIMEOUT_S + 10;
  const worst = (key: keyof Row) => Math.max(...rows.map((r) => Number(r[key])));
  const goals = {
    [`running again within heartbeat timeout + 10 s (${limit} s); worst ${worst('running_again_s')} s`]: worst('running_again_s') <= limit,
    [`at most 1 epoch redone (completed + partial); worst ${round3(Math.max(...rows.map((r) => r.epochs_redone + r.partial_epoch_lost)))}`]: rows.every((r) => r.epochs_redone + r.partial_epoch_lost <= 1),
    'every run FINISHED with every epoch logged': rows.every((r) => r.run_status === 'FINISHED'),
  };
  await saveResults('recovery', { ...machine, heartbeat_timeout_s: HEARTBEAT_TIMEOUT_S, epoch_seconds: EPOCH_S, epochs: EPOCHS, kill_at_epoch: KILL_AT, shared_disk: true, rows, goals });
  console.table(rows);
  console.table(goals);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
