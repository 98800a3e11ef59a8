import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadSettings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { startScenario } from '../cli/start-run';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { CONTROL_QUEUE, gpuPermitSignal, gpuReleasedSignal, sweepTrialId } from '../common/contract';
import { workflowId } from '../scenarios/naming';
import { parseScenarioText } from '../scenarios/loader';
import type { sweep } from '../workflows/sweep';
import { createControlWorker } from '../workers/control';
import { createGpuWorkers } from '../workers/gpu';
import { FAKE_EXECUTOR, machineAtStart, REPO, useThisBuild } from './bench-env';

/**
 * Sweep orchestration overhead, side by side on the same stand-in trials, slots and MLflow:
 * (a) the seeds' ThreadPoolExecutor runner, (b) GuardianFlow's sweep workflow, (c) the same
 * sweep continuing as new every BENCH_TRIALS_PER_RUN trials. Goals (issue 12): slot idle gap
 * p95 ≤ the seeds' and < 0.3 s; makespan ≤ 1.05 × ideal, with and without continue-as-new.
 * Needs the dev stack (`gflow dev up`). Env: BENCH_TRIALS (40), BENCH_SLOTS (4), BENCH_SECONDS (10),
 * BENCH_TRIALS_PER_RUN (10), BENCH_WORKER_SETTLE_MS (3000: the workers' start-up, before the clock starts).
 */

const N = Number(process.env.BENCH_TRIALS ?? 40);
const G = Number(process.env.BENCH_SLOTS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TRIALS_PER_RUN = Number(process.env.BENCH_TRIALS_PER_RUN ?? 10);
const POOL = 'bench';
const WORKER_SETTLE_MS = Number(process.env.BENCH_WORKER_SETTLE_MS ?? 3000);

interface Interval {
  start: number;
  end: number;
  /** The job's folder, `{workDir}/{runId}`: ties a stand-in job to its trial's MLflow run. */
  run_dir?: string;
  /** CUDA_VISIBLE_DEVICES: the seeds' runner gives each of its threads one (its slot). */
  device?: string;
}

const runIdOf = (job: Interval) => (job.run_dir ? path.basename(job.run_dir) : undefined);

/**
 * Where a sweep slot's idle gap goes, each part in seconds, from the previous job's end on the slot
 * (the executor's own clock) to the next job's executor start, through the next trial's history:
 * the sweep hands the slot on (the job's `gpuReleased`, a sweep workflow task, `gpuPermit` recorded
 * in the trial), the trial schedules its train job (a trial workflow task), the pool dispatches
 * it to a host with a free slot, the host starts the executor (folders, Python's start-up).
 */
const GAP_PARTS = ['sweep_hands_slot_on', 'trial_schedules_job', 'pool_dispatches_job', 'host_starts_executor'] as const;
type GapParts = Record<(typeof GAP_PARTS)[number], number>;

interface Figures {
  runner: string;
  trials: number;
  slots: number;
  trial_seconds: number;
  makespan_s: number;
  ideal_s: number;
  overhead_per_trial_s: number;
  slot_idle_gap_p50_s: number;
  slot_idle_gap_p95_s: number;
  /** Each slot's own next job: the seeds' thread, the trial a sweep job handed its slot to (see ownSlotGaps). */
  own_slot_gap_p50_s: number;
  own_slot_gap_p95_s: number;
  /** Sweep workflows only: each part of the gaps, p50 and p95 over the gaps (parts of one gap add up to it). */
  gap_parts?: Record<string, { p50_s: number; p95_s: number }>;
}

async function timeline(file: string): Promise<Interval[]> {
  const text = await readFile(file, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Interval)
    .sort((a, b) => a.start - b.start);
}

interface SlotGap {
  /** When the slot freed (the previous job's end). */
  from: number;
  /** The job that took the slot next. */
  job: Interval;
}

/** Idle time of each slot between its consecutive jobs, each job on the slot that freed up last before it started. */
function slotGaps(jobs: Interval[], slots: number): SlotGap[] {
  const freeAt: number[] = Array.from({ length: slots }, () => -Infinity);
  const gaps: SlotGap[] = [];
  for (const job of jobs) {
    let slot = -1;
    for (let i = 0; i < slots; i++) if (freeAt[i] <= job.start && (slot < 0 || freeAt[i] > freeAt[slot])) slot = i;
    if (slot < 0) slot = freeAt.indexOf(Math.min(...freeAt));
    if (freeAt[slot] > -Infinity) gaps.push({ from: Math.min(freeAt[slot], job.start), job });
    freeAt[slot] = job.end;
  }
  return gaps;
}

/**
 * Idle time between a slot's job and the job that slot ran next, where the runner says which that
 * was: the seeds' threads each have a slot (`device`); a sweep job that handed its slot straight
 * to a trial (`gpuReleased(i, j)`) names it (`next`: a job's successor by run id). A job whose
 * predecessor is not known takes the slot that freed up last before it (as slotGaps does).
 */
function ownSlotGaps(jobs: Interval[], slots: number, next?: Map<string, string>): number[] {
  if (!next) {
    const bySlot = new Map<string, Interval[]>();
    for (const job of jobs) bySlot.set(job.device ?? '', [...(bySlot.get(job.device ?? '') ?? []), job]);
    if (bySlot.size !== slots) return slotGaps(jobs, slots).map(({ from, job }) => job.start - from);
    return [...bySlot.values()].flatMap((own) => own.slice(1).map((job, i) => job.start - own[i].end));
  }
  const byRun = new Map(jobs.flatMap((job) => (runIdOf(job) ? [[runIdOf(job)!, job] as const] : [])));
  const gaps = [...next].flatMap(([from, to]) => (byRun.has(from) && byRun.has(to) ? [byRun.get(to)!.start - byRun.get(from)!.end] : []));
  // slots given back to the sweep go to the jobs no one handed a slot to (after the first `slots`), each to the one freed last before it
  const handed = new Set(next.values());
  const freed = jobs.filter((job) => !next.has(runIdOf(job) ?? '')).map((job) => job.end);
  for (const job of jobs.filter((j) => !handed.has(runIdOf(j) ?? '')).slice(slots)) {
    const before = freed.filter((end) => end <= job.start);
    const from = before.length ? Math.max(...before) : Math.min(...freed);
    freed.splice(freed.indexOf(from), 1);
    gaps.push(Math.max(0, job.start - from));
  }
  return gaps;
}

/** Each `gpuReleased(i, j)` of every run of the sweep: trial i's job handed its slot to trial j. */
async function handOffs(client: Client, sweepId: string): Promise<[number, number][]> {
  const pairs: [number, number][] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${sweepId}'` })) {
    const { events } = await client.workflow.getHandle(sweepId, run.runId).fetchHistory();
    for (const e of events ?? []) {
      const signal = e.workflowExecutionSignaledEventAttributes;
      if (signal?.signalName !== gpuReleasedSignal.name) continue;
      const args = (signal.input?.payloads ?? []).map((p) => JSON.parse(Buffer.from(p.data!).toString('utf8')) as number);
      if (args.length === 2) pairs.push([args[0], args[1]]);
    }
  }
  return pairs;
}

/** When a trial was permitted a slot (none if granted at once), scheduled its train job and the job started (ms). */
interface TrialTimes {
  index: number;
  permit?: number;
  scheduled: number;
  started: number;
}

const at = (e: temporal.api.history.v1.IHistoryEvent) => tsToMs(e.eventTime);

/** Each trial's TrialTimes from its history, by its MLflow run id. */
async function trialTimes(client: Client, sweepId: string): Promise<Map<string, TrialTimes>> {
  const times = new Map<string, TrialTimes>();
  for (let index = 0; index < N; index++) {
    const { events } = await client.workflow.getHandle(sweepTrialId(sweepId, index)).fetchHistory();
    const permit = events!.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === gpuPermitSignal.name);
    const scheduled = events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train');
    const started = events!.find((e) => e.activityTaskStartedEventAttributes && Number(e.activityTaskStartedEventAttributes.scheduledEventId) === Number(scheduled?.eventId));
    if (!scheduled || !started) continue;
    const input = JSON.parse(Buffer.from(scheduled.activityTaskScheduledEventAttributes!.input!.payloads![0].data!).toString('utf8')) as { runId: string };
    times.set(input.runId, { index, permit: permit && at(permit), scheduled: at(scheduled), started: at(started) });
  }
  return times;
}

/** Splits each gap into GAP_PARTS (see there); a part that happened before the slot freed counts 0. */
function gapParts(gaps: SlotGap[], times: Map<string, TrialTimes>): GapParts[] {
  return gaps.flatMap(({ from, job }) => {
    const trial = job.run_dir && times.get(path.basename(job.run_dir));
    if (!trial) return [];
    const t0 = from * 1000;
    const t1 = Math.max(t0, trial.permit ?? t0);
    const t2 = Math.max(t1, trial.scheduled);
    const t3 = Math.max(t2, trial.started);
    const t4 = Math.max(t3, job.start * 1000);
    return [{ sweep_hands_slot_on: (t1 - t0) / 1000, trial_schedules_job: (t2 - t1) / 1000, pool_dispatches_job: (t3 - t2) / 1000, host_starts_executor: (t4 - t3) / 1000 }];
  });
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
};

function figures(runner: string, makespan: number, jobs: Interval[], times?: Map<string, TrialTimes>, pairs?: [number, number][]): Figures {
  const ideal = (N * SECONDS) / G;
  const slotted = slotGaps(jobs, G);
  const gaps = slotted.map(({ from, job }) => job.start - from);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  const parts = times && gapParts(slotted, times);
  const runOfTrial = new Map([...(times ?? [])].map(([runId, t]) => [t.index, runId]));
  const next = pairs && new Map(pairs.flatMap(([from, to]) => (runOfTrial.has(from) && runOfTrial.has(to) ? [[runOfTrial.get(from)!, runOfTrial.get(to)!] as const] : [])));
  const own = ownSlotGaps(jobs, G, next);
  return {
    runner,
    trials: jobs.length,
    slots: G,
    trial_seconds: SECONDS,
    makespan_s: r(makespan),
    ideal_s: r(ideal),
    overhead_per_trial_s: r(((makespan - ideal) * G) / N),
    slot_idle_gap_p50_s: r(quantile(gaps, 0.5)),
    slot_idle_gap_p95_s: r(quantile(gaps, 0.95)),
    own_slot_gap_p50_s: r(quantile(own, 0.5)),
    own_slot_gap_p95_s: r(quantile(own, 0.95)),
    ...(parts && {
      gap_parts: Object.fromEntries(GAP_PARTS.map((part) => [part, { p50_s: r(quantile(parts.map((p) => p[part]), 0.5)), p95_s: r(quantile(parts.map((p) => p[part]), 0.95)) }])),
    }),
  };
}

async function seedsRunner(work: string, mlflowUrl: string, python: string): Promise<Figures> {
  const file = path.join(work, 'seeds.jsonl');
  const started = Date.now();
  await promisify(execFile)(
    python,
    [path.join(REPO, 'bench/seeds_sweep.py'), '--tracking-uri', mlflowUrl, '--experiment', 'bench/seeds-sweep', '--trials', String(N), '--slots', String(G), '--executor', FAKE_EXECUTOR, '--work-dir', path.join(work, 'seeds')],
    { env: { ...process.env, GF_FAKE_EPOCH_SECONDS: String(SECONDS), GF_FAKE_TIMELINE: file }, maxBuffer: 1 << 24 },
  );
  return figures('seeds: ThreadPoolExecutor + MLflow client', (Date.now() - started) / 1000, await timeline(file));
}

/** The sweep workflow on its own workers; with `trialsPerRun`, it continues as new that often. */
async function workflowRunner(work: string, trialsPerRun?: number): Promise<Figures> {
  const file = path.join(work, `workflow-${trialsPerRun ?? 'default'}.jsonl`);
  const base = loadSettings();
  const settings = { ...base, gpu: { ...base.gpu, pool: POOL, slots: G, workDir: path.join(work, 'gpu') } };
  const nativeConnection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection, namespace: settings.temporal.namespace });
  const lrs = Array.from({ length: N }, (_, i) => Number((0.0001 * (i + 1)).toFixed(4)));
  const scenario = parseScenarioText(`
name: bench
version: b${Date.now()}${trialsPerRun ? `-can${trialsPerRun}` : ''}
type: train
design: sweep
site: { customer: bench, region: local, plant: lab, zone: sweep }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: none }
environment: { device: cpu, workers: 0, gpu_pool: ${POOL} }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [${lrs.join(', ')}] }, max_runs: ${N}, parallel: ${G} }
`);
  // charts warm, as the deployed control worker (workers/control.ts main) runs them
  const control = await createControlWorker({ settings, connection: nativeConnection, warmCharts: true });
  const gpu = await createGpuWorkers({ settings, connection: nativeConnection, client, executors: { train: FAKE_EXECUTOR }, env: { GF_FAKE_EPOCH_SECONDS: String(SECONDS), GF_FAKE_TIMELINE: file } });
  const workers = [control, ...gpu];
  const running = workers.map((w) => w.run());
  try {
    // a deployed worker has started (polling, its spare chart process loaded) long before a sweep: its start-up is not the sweep's
    await sleep(WORKER_SETTLE_MS);
    const started = Date.now();
    const handle =
      trialsPerRun === undefined
        ? ((await startScenario(client, scenario)) as unknown as WorkflowHandle<typeof sweep>)
        : await client.workflow.start<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, trialsPerRun }] });
    await handle.result();
    const makespan = (Date.now() - started) / 1000;
    const runner = trialsPerRun === undefined ? 'GuardianFlow sweep workflow' : `GuardianFlow sweep workflow, continue-as-new every ${trialsPerRun} trials`;
    return figures(runner, makespan, await timeline(file), await trialTimes(client, handle.workflowId), await handOffs(client, handle.workflowId));
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
    await connection.close();
    await nativeConnection.close();
  }
}

async function main(): Promise<void> {
  const settings = loadSettings();
  await useThisBuild(settings);
  const atStart = machineAtStart();
  const work = await mkdtemp(path.join(os.tmpdir(), 'gflow-bench-'));
  const [seeds, plain, rotating] = [await seedsRunner(work, settings.mlflow.url, settings.python), await workflowRunner(work), await workflowRunner(work, TRIALS_PER_RUN)];
  const rows = [seeds, plain, rotating];
  const goals = {
    'slot idle gap p95 ≤ the seeds’ runner': plain.slot_idle_gap_p95_s <= seeds.slot_idle_gap_p95_s,
    'slot idle gap p95 < 0.3 s': plain.slot_idle_gap_p95_s < 0.3,
    'each slot’s own next job: gap p95 ≤ the seeds’ runner': plain.own_slot_gap_p95_s <= seeds.own_slot_gap_p95_s,
    'each slot’s own next job: gap p95 < 0.3 s': plain.own_slot_gap_p95_s < 0.3,
    'makespan ≤ 1.05 × ideal': plain.makespan_s <= 1.05 * plain.ideal_s,
    'across continue-as-new: makespan ≤ 1.05 × ideal (no drain dip)': rotating.makespan_s <= 1.05 * rotating.ideal_s,
    'across continue-as-new: slot idle gap p95 < 0.3 s': rotating.slot_idle_gap_p95_s < 0.3,
    'across continue-as-new: each slot’s own next job: gap p95 < 0.3 s': rotating.own_slot_gap_p95_s < 0.3,
  };
  const out = path.join(REPO, 'bench/results');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'sweep-bench.json'), JSON.stringify({ ...atStart, rows, goals }, null, 2) + '\n');
  console.table(rows.map(({ gap_parts: _, ...row }) => row));
  for (const row of rows) {
    if (!row.gap_parts) continue;
    console.log(`where a slot's idle gap goes — ${row.runner}`);
    console.table(row.gap_parts);
  }
  console.table(goals);
  console.log(`written to ${path.join(out, 'sweep-bench.json')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
