import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { Priority } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { CONTROL_QUEUE, WorkflowType } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { parseScenarioText } from '../scenarios/loader';
import { workflowId } from '../scenarios/naming';
import { DEFAULT_POOL_POLICY, PoolPolicySchema, scenarioPriority, type PoolPolicy } from '../scenarios/pool-policy';
import type { Scenario } from '../scenarios/schema';
import { createControlWorker } from '../workers/control';
import { createGpuWorkers } from '../workers/gpu';
import { envInt, envSeconds, FAKE_EXECUTOR, machineAtStart, round3, saveResults, useThisBuild } from './bench-env';

/**
 * Fair share and priority on a busy GPU pool (issue 14): the stand-in executor on SLOTS slots;
 * sites A and B (two customers) each run a sweep with `parallel` 8, B starting a little later;
 * site C starts one urgent trial mid-way. Three modes, each on a pool (task queue) of its own:
 * - `fcfs`: started without any priority, as the product did before: first come, first served;
 * - `fair 1:1`: the product now (pool.yaml's default: equal shares by customer);
 * - `fair 2:1`: pool.yaml weights A 2, B 1.
 * Figures from the trials' histories (when each GPU job was queued, started, ended): the
 * GPU-seconds of the jobs the pool gave each site while both had jobs waiting (goal: within ±10 % of the weights'
 * shares) and the urgent job's wait (goal: at most one trial length).
 * Needs the dev stack's servers (`gflow dev up --no-workers`; Temporal with fairness on, as
 * stack/servers.ts starts it). Env: BENCH_TRIALS (24 per site), BENCH_SLOTS (2), BENCH_PARALLEL (8),
 * BENCH_EPOCH_SECONDS (1.5; 2 epochs a trial), BENCH_B_DELAY_S (5), BENCH_URGENT_AFTER_S (30, after A).
 */

const TRIALS = envInt('BENCH_TRIALS', 24);
const SLOTS = envInt('BENCH_SLOTS', 2);
const PARALLEL = envInt('BENCH_PARALLEL', 8);
const EPOCH_SECONDS = envSeconds('BENCH_EPOCH_SECONDS', 1.5);
const EPOCHS = 2;
const B_DELAY_S = envSeconds('BENCH_B_DELAY_S', 5);
const URGENT_AFTER_S = envSeconds('BENCH_URGENT_AFTER_S', 30);
const SHARE_TOLERANCE = 0.1;

type Site = 'A' | 'B' | 'C';
const CUSTOMER: Record<Site, string> = { A: 'bench-site-a', B: 'bench-site-b', C: 'bench-site-c' };

interface Mode {
  name: string;
  /** The pool policy of the starts; undefined: no priority at all (first come, first served). */
  pool?: PoolPolicy;
}

const MODES: Mode[] = [
  { name: 'fcfs (no priority, no fair share)' },
  { name: 'fair 1:1 (default pool.yaml)', pool: DEFAULT_POOL_POLICY },
  { name: 'fair 2:1 (weights A 2, B 1)', pool: PoolPolicySchema.parse({ weights: { [CUSTOMER.A]: 2, [CUSTOMER.B]: 1 } }) },
];

/** One GPU job as its trial's history tells it (ms since the epoch). */
interface Job {
  site: Site;
  scheduled: number;
  started: number;
  ended: number;
}

interface ModeFigures {
  mode: string;
  weights: { A: number; B: number };
  jobs: number;
  trial_s_median: number;
  both_waiting_s: number;
  gpu_s_A: number;
  gpu_s_B: number;
  share_A: number;
  share_A_goal: number;
  share_within_10pct: boolean;
  urgent_wait_s: number;
  urgent_within_one_trial: boolean;
  makespan_s: number;
}

function scenario(site: Site, version: string, pool: string): Scenario {
  const design = site === 'C' ? 'single' : 'sweep';
  const lrs = Array.from({ length: TRIALS }, (_, i) => Number((0.0001 * (i + 1)).toFixed(4)));
  return parseScenarioText(`
name: fair-bench-${site.toLowerCase()}
version: ${version}
type: train
design: ${design}
site: { customer: ${CUSTOMER[site]}, region: local, plant: lab, zone: pool }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: none }
environment: { device: cpu, workers: 0, gpu_pool: ${pool} }
training: { epochs: ${EPOCHS}, batch_size: 16, learning_rate: 0.01, plots: false }
register: false
${site === 'C' ? 'priority: urgent' : `sweep: { parameters: { learning_rate: [${lrs.join(', ')}] }, parallel: ${PARALLEL} }`}
`);
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t!.seconds) * 1000 + Math.floor((t!.nanos ?? 0) / 1e6);

/** The train job of a workflow, from its history. */
async function jobOf(client: Client, id: string, site: Site): Promise<Job> {
  const events = (await client.workflow.getHandle(id).fetchHistory()).events!;
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train')!;
  const of = (eventId: unknown) => String(eventId) === String(scheduled.eventId);
  const started = events.find((e) => of(e.activityTaskStartedEventAttributes?.scheduledEventId))!;
  const ended = events.find((e) => of(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? e.activityTaskFailedEventAttributes?.scheduledEventId))!;
  return { site, scheduled: ms(scheduled.eventTime), started: ms(started.eventTime), ended: ms(ended.eventTime) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * While both A and B had a job queued and not started (sampled in 10 ms steps): how long that
 * lasted, and the GPU-seconds of the jobs the pool dispatched to each in that time (each job's
 * whole run): what the pool's order decided, not what ran before one site arrived.
 */
function shares(jobs: Job[]): { bothWaiting: number; a: number; b: number } {
  const waiting = (site: Site, t: number) => jobs.some((j) => j.site === site && j.scheduled <= t && t < j.started);
  const both = (t: number) => waiting('A', t) && waiting('B', t);
  const step = 10;
  let bothWaiting = 0;
  for (let t = Math.min(...jobs.map((j) => j.scheduled)); t < Math.max(...jobs.map((j) => j.ended)); t += step) if (both(t)) bothWaiting += step;
  // a job is one of its site's waiting jobs until the moment it starts
  const granted = (site: Site) => jobs.filter((j) => j.site === site && both(j.started - 1)).reduce((sum, j) => sum + (j.ended - j.started), 0);
  return { bothWaiting: bothWaiting / 1000, a: granted('A') / 1000, b: granted('B') / 1000 };
}

async function runMode(settings: Settings, client: Client, connection: NativeConnection, mode: Mode, index: number): Promise<ModeFigures> {
  const version = `b${Date.now()}m${index}`;
  const pool = `bench-fair-${version}`;
  const modeSettings: Settings = { ...settings, gpu: { ...settings.gpu, pool, slots: SLOTS, devices: ['cpu'], workDir: await mkdtemp(path.join(os.tmpdir(), 'gflow-fair-bench-')) } };
  const env = { GF_FAKE_EPOCH_SECONDS: String(EPOCH_SECONDS) };
  const workers: Worker[] = [
    await createControlWorker({ settings: modeSettings, connection }),
    ...(await createGpuWorkers({ settings: modeSettings, connection, client, executors: { train: FAKE_EXECUTOR }, env })),
  ];
  const running = workers.map((w) => w.run());
  const scenarios = { A: scenario('A', version, pool), B: scenario('B', version, pool), C: scenario('C', version, pool) };
  const start = (site: Site): Promise<WorkflowHandle> => {
    const s = scenarios[site];
    const priority: Priority | undefined = mode.pool && scenarioPriority(s, mode.pool);
    return client.workflow.start(site === 'C' ? WorkflowType.singleRun : WorkflowType.sweep, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(s), args: [{ scenario: s }], ...(priority && { priority }) });
  };
  try {
    const t0 = Date.now();
    const a = await start('A');
    await sleep(B_DELAY_S * 1000);
    const b = await start('B');
    await sleep(Math.max(0, URGENT_AFTER_S * 1000 - (Date.now() - t0)));
    const c = await start('C');
    await Promise.all([a.result(), b.result(), c.result()]);
    const makespan = (Date.now() - t0) / 1000;
    const trialIds = (s: Scenario) => Array.from({ length: TRIALS }, (_, i) => `${workflowId(s)}/trial-${i}`);
    const jobs = await Promise.all([
      ...trialIds(scenarios.A).map((id) => jobOf(client, id, 'A')),
      ...trialIds(scenarios.B).map((id) => jobOf(client, id, 'B')),
      jobOf(client, workflowId(scenarios.C), 'C'),
    ]);
    const trial = median(jobs.map((j) => (j.ended - j.started) / 1000));
    const urgent = jobs.find((j) => j.site === 'C')!;
    const { bothWaiting, a: gpuA, b: gpuB } = shares(jobs);
    const pool = mode.pool ?? DEFAULT_POOL_POLICY;
    const weights = { A: scenarioPriority(scenarios.A, pool).fairnessWeight!, B: scenarioPriority(scenarios.B, pool).fairnessWeight! };
    const goal = weights.A / (weights.A + weights.B);
    const shareA = gpuA + gpuB > 0 ? gpuA / (gpuA + gpuB) : 0;
    const urgentWait = (urgent.started - urgent.scheduled) / 1000;
    return {
      mode: mode.name,
      weights,
      jobs: jobs.length,
      trial_s_median: round3(trial),
      both_waiting_s: round3(bothWaiting),
      gpu_s_A: round3(gpuA),
      gpu_s_B: round3(gpuB),
      share_A: round3(shareA),
      share_A_goal: round3(goal),
      share_within_10pct: Math.abs(shareA - goal) <= SHARE_TOLERANCE * goal,
      urgent_wait_s: round3(urgentWait),
      urgent_within_one_trial: urgentWait <= trial,
      makespan_s: round3(makespan),
    };
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const machine = machineAtStart();
  const settings = loadSettings();
  await useThisBuild(settings);
  const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const clientConnection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection: clientConnection, namespace: settings.temporal.namespace });
  try {
    const rows: ModeFigures[] = [];
    for (const [i, mode] of MODES.entries()) {
      console.log(`${mode.name}: ${2 * TRIALS + 1} trials on ${SLOTS} slots…`);
      rows.push(await runMode(settings, client, connection, mode, i));
    }
    const fair = rows.filter((r) => r.mode.startsWith('fair'));
    const goals = {
      'fair modes: GPU-seconds while both wait within ±10 % of the weights': fair.every((r) => r.share_within_10pct),
      'fair modes: urgent job waits at most one trial length': fair.every((r) => r.urgent_within_one_trial),
    };
    console.table(rows.map(({ weights, ...r }) => ({ ...r, weights: `${weights.A}:${weights.B}` })));
    console.table(goals);
    await saveResults('fairness', {
      ...machine,
      setup: { trials_per_site: TRIALS, slots: SLOTS, parallel: PARALLEL, epochs: EPOCHS, epoch_seconds: EPOCH_SECONDS, b_delay_s: B_DELAY_S, urgent_after_s: URGENT_AFTER_S },
      rows,
      goals,
    });
  } finally {
    await clientConnection.close();
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
