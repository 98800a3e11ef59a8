import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadSettings } from '../common/settings';
import { startScenario } from '../cli/start-run';
import { parseScenarioText } from '../scenarios/loader';
import type { sweep } from '../workflows/sweep';
import { createControlWorker } from '../workers/control';
import { createGpuWorkers } from '../workers/gpu';

/**
 * Sweep orchestration overhead, side by side on the same stand-in trials, slots and MLflow:
 * (a) the seeds' ThreadPoolExecutor runner, (b) GuardianFlow's sweep workflow.
 * Needs the dev stack (`gflow dev up`). Env: BENCH_TRIALS, BENCH_SLOTS, BENCH_SECONDS.
 */

const REPO = path.resolve(__dirname, '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []));
const EXECUTOR = path.join(REPO, 'test/fixtures/fake_executor.py');
const N = Number(process.env.BENCH_TRIALS ?? 40);
const G = Number(process.env.BENCH_SLOTS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const POOL = 'bench';

interface Interval {
  start: number;
  end: number;
}

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
}

async function timeline(file: string): Promise<Interval[]> {
  const text = await readFile(file, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Interval)
    .sort((a, b) => a.start - b.start);
}

/** Idle time of each slot between its consecutive jobs, each job on the slot that freed up last before it started. */
function slotGaps(jobs: Interval[], slots: number): number[] {
  const freeAt: number[] = Array.from({ length: slots }, () => -Infinity);
  const gaps: number[] = [];
  for (const job of jobs) {
    let slot = -1;
    for (let i = 0; i < slots; i++) if (freeAt[i] <= job.start && (slot < 0 || freeAt[i] > freeAt[slot])) slot = i;
    if (slot < 0) slot = freeAt.indexOf(Math.min(...freeAt));
    if (freeAt[slot] > -Infinity) gaps.push(Math.max(0, job.start - freeAt[slot]));
    freeAt[slot] = job.end;
  }
  return gaps;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
};

function figures(runner: string, makespan: number, jobs: Interval[]): Figures {
  const ideal = (N * SECONDS) / G;
  const gaps = slotGaps(jobs, G);
  const r = (x: number) => Math.round(x * 1000) / 1000;
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
  };
}

async function seedsRunner(work: string, mlflowUrl: string, python: string): Promise<Figures> {
  const file = path.join(work, 'seeds.jsonl');
  const started = Date.now();
  await promisify(execFile)(
    python,
    [path.join(REPO, 'bench/seeds_sweep.py'), '--tracking-uri', mlflowUrl, '--experiment', 'bench/seeds-sweep', '--trials', String(N), '--slots', String(G), '--executor', EXECUTOR, '--work-dir', path.join(work, 'seeds')],
    { env: { ...process.env, GF_FAKE_EPOCH_SECONDS: String(SECONDS), GF_FAKE_TIMELINE: file }, maxBuffer: 1 << 24 },
  );
  return figures('seeds: ThreadPoolExecutor + MLflow client', (Date.now() - started) / 1000, await timeline(file));
}

async function workflowRunner(work: string): Promise<Figures> {
  const file = path.join(work, 'workflow.jsonl');
  const base = loadSettings();
  const settings = { ...base, gpu: { ...base.gpu, pool: POOL, slots: G, workDir: path.join(work, 'gpu') } };
  const nativeConnection = await NativeConnection.connect({ address: settings.temporal.address });
  const connection = await Connection.connect({ address: settings.temporal.address });
  const client = new Client({ connection, namespace: settings.temporal.namespace });
  const lrs = Array.from({ length: N }, (_, i) => Number((0.0001 * (i + 1)).toFixed(4)));
  const scenario = parseScenarioText(`
name: bench
version: b${Date.now()}
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
  const control = await createControlWorker({ settings, connection: nativeConnection });
  const gpu = await createGpuWorkers({ settings, connection: nativeConnection, client, executors: { train: EXECUTOR }, env: { GF_FAKE_EPOCH_SECONDS: String(SECONDS), GF_FAKE_TIMELINE: file } });
  const workers = [control, ...gpu];
  const running = workers.map((w) => w.run());
  try {
    const started = Date.now();
    const handle = (await startScenario(client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
    await handle.result();
    return figures('GuardianFlow sweep workflow', (Date.now() - started) / 1000, await timeline(file));
  } finally {
    for (const w of workers) w.shutdown();
    await Promise.all(running);
    await connection.close();
    await nativeConnection.close();
  }
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const work = await mkdtemp(path.join(os.tmpdir(), 'gflow-bench-'));
  const rows = [await seedsRunner(work, settings.mlflow.url, settings.python), await workflowRunner(work)];
  const out = path.join(REPO, 'bench/results');
  await mkdir(out, { recursive: true });
  await writeFile(path.join(out, 'sweep-bench.json'), JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, rows }, null, 2));
  console.table(rows);
  console.log(`written to ${path.join(out, 'sweep-bench.json')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
