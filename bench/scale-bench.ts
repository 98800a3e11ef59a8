import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startScenario } from '../cli/start-run';
import { batchProgressQuery, CONTROL_QUEUE } from '../common/contract';
import { CONTROL_WORKER_NODE_FLAGS } from '../common/control-worker-flags';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { parseScenarioText } from '../scenarios/loader';
import { workflowId } from '../scenarios/naming';
import type { sweep } from '../workflows/sweep';
import { envInt, envSeconds, machineAtStart, REPO, round3, saveResults, useThisBuild } from './bench-env';

/**
 * A sweep of many 0-s stand-in trials through the whole product (sweep workflow, a child
 * workflow, MLflow run and S3 artifacts per trial): trials per second, the control worker's
 * memory sampled while it runs, and the history events of each run of the sweep's
 * continue-as-new chain. The control worker and the GPU hosts are their own processes.
 * Needs the dev stack's servers (`gflow dev up --no-workers`: no other control worker).
 * Usage: scale-bench.js [trials] (default 10000, or BENCH_TRIALS). Env: BENCH_HOSTS (2),
 * BENCH_SLOTS (4 per host), BENCH_SAMPLE_S (2), BENCH_CONTROL_NODE_OPTIONS (NODE_OPTIONS of the
 * control worker only, e.g. `--max-old-space-size=384`; default none, as `gflow dev up` runs it),
 * BENCH_CONTROL_NODE_FLAGS (its V8 flags on the command line; default the product's, '' for none).
 */

const TRIALS = Number(process.argv[2] ?? envInt('BENCH_TRIALS', 10_000));
const HOSTS = envInt('BENCH_HOSTS', 2);
const SLOTS = envInt('BENCH_SLOTS', 4);
const SAMPLE_S = envSeconds('BENCH_SAMPLE_S', 2);
const POOL = 'bench-scale';
const GOAL_RSS_MB = 500;
const EXTRAPOLATE_TO = 10_000;
const CONTROL_NODE_OPTIONS = process.env.BENCH_CONTROL_NODE_OPTIONS ?? '';
/** The control worker's V8 flags: the product's (common/control-worker-flags.ts) unless BENCH_CONTROL_NODE_FLAGS says others ('' for none). */
const CONTROL_NODE_FLAGS = process.env.BENCH_CONTROL_NODE_FLAGS === undefined ? [...CONTROL_WORKER_NODE_FLAGS] : process.env.BENCH_CONTROL_NODE_FLAGS.split(/\s+/).filter(Boolean);
/** "Flat": over the second half of the trials, RSS grows by less than this per 1000 trials. */
const FLAT_MB_PER_1000 = 5;

interface Sample {
  t_s: number;
  settled: number;
  rss_mb: number;
  /** Anonymous part of the RSS (heaps, not mapped files), and the thread count: where a change of RSS comes from. */
  rss_anon_mb: number;
  threads: number;
}

/** Resident memory and threads of a process, from /proc (Linux). */
async function memoryOf(pid: number): Promise<Omit<Sample, 't_s' | 'settled'>> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]);
  const mb = (kb: number) => Math.round(kb / 102.4) / 10;
  return { rss_mb: mb(field('VmRSS')), rss_anon_mb: mb(field('RssAnon')), threads: field('Threads') };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / sxx;
}

/** A worker process, ready once it prints `ready` (its first line says so). */
async function startProcess(script: string, env: NodeJS.ProcessEnv, ready: string, nodeFlags: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeFlags, path.join(REPO, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let waited = 0; !out.includes(ready); waited += 100) {
    if (child.exitCode !== null || waited > 120_000) throw new Error(`${script} did not start: ${out}`);
    await sleep(100);
  }
  return child;
}

function scenarioText(trials: number): string {
  // a grid of at least `trials` combinations: 100 learning rates × 8 batch sizes × enough patience values
  const lrs = Array.from({ length: 100 }, (_, i) => Number((0.0001 * (i + 1)).toFixed(4)));
  const patience = Array.from({ length: Math.max(1, Math.ceil(trials / 800)) }, (_, i) => i + 1);
  return `
name: bench-scale
version: s${Date.now()}
type: train
design: sweep
site: { customer: bench, region: local, plant: lab, zone: scale }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: none }
environment: { device: cpu, workers: 0, gpu_pool: ${POOL} }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [${lrs.join(', ')}], batch_size: [8, 16, 24, 32, 40, 48, 56, 64], patience: [${patience.join(', ')}] }, strategy: random, max_runs: ${trials}, parallel: ${HOSTS * SLOTS}, seed: 1 }
`;
}

/** Each run of the sweep's continue-as-new chain: its history length, and whether only our control worker ran its workflow tasks. */
async function chainOf(client: Client, id: string, ownIdentity: string) {
  const runs: { runId: string; events: number; children: number }[] = [];
  const childIds: string[] = [];
  let foreign = 0;
  let runId: string | undefined = (await client.workflow.getHandle(id).describe()).runId;
  while (runId) {
    const events: temporal.api.history.v1.IHistoryEvent[] = (await client.workflow.getHandle(id, runId).fetchHistory()).events ?? [];
    const children = events.filter((e) => e.childWorkflowExecutionStartedEventAttributes);
    childIds.push(...children.map((e) => e.childWorkflowExecutionStartedEventAttributes!.workflowExecution!.workflowId!));
    foreign += events.filter((e) => e.workflowTaskCompletedEventAttributes && e.workflowTaskCompletedEventAttributes.identity !== ownIdentity).length;
    runs.unshift({ runId, events: events.length, children: children.length });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return { runs, childIds, foreign };
}

async function otherPollers(client: Client, settings: Settings): Promise<string[]> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: settings.temporal.namespace,
    taskQueue: { name: CONTROL_QUEUE },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  return (described.pollers ?? []).map((p) => p.identity ?? '');
}

async function main(): Promise<void> {
  if (!Number.isInteger(TRIALS) || TRIALS <= 0) throw new Error(`trials: expected a positive integer, got "${process.argv[2]}"`);
  const machine = machineAtStart();
  const settings = loadSettings();
  await useThisBuild(settings);
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection, namespace: settings.temporal.namespace });
  const before = await otherPollers(client, settings);
  if (before.length) console.warn(`warning: other workers polled ${CONTROL_QUEUE} lately (${before.join(', ')}); if one still runs, its share is counted below as foreign workflow tasks`);

  const control = await startProcess('dist/workers/control.js', { NODE_OPTIONS: CONTROL_NODE_OPTIONS }, 'control worker polling', CONTROL_NODE_FLAGS);
  const hosts: ChildProcess[] = [];
  const samples: Sample[] = [];
  try {
    for (let h = 0; h < HOSTS; h++) {
      hosts.push(await startProcess('dist/bench/gpu-host.js', { GF_GPU_POOL: POOL, GF_GPU_HOST_ID: `bench-scale-${h}`, GF_GPU_SLOTS: String(SLOTS), GF_FAKE_EPOCH_SECONDS: '0' }, 'GPU host ready'));
    }
    const scenario = parseScenarioText(scenarioText(TRIALS));
    const id = workflowId(scenario);
    const started = Date.now();
    const handle = (await startScenario(client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
    let done = false;
    // a worker that dies (out of memory, say) would leave the sweep waiting for ever: it ends the bench instead
    const died = new Promise<never>((_, reject) => {
      for (const child of [control, ...hosts]) child.once('exit', (code, signal) => reject(new Error(`${child.spawnargs.join(' ')} exited (${signal ?? code}) during the sweep`)));
    });
    const result = Promise.race([handle.result(), died]).finally(() => (done = true));
    while (!done) {
      const progress = await handle.query(batchProgressQuery).catch(() => undefined);
      const settled = progress ? progress.done + progress.failed + progress.stopped + (progress.cancelled ?? 0) : (samples.at(-1)?.settled ?? 0);
      samples.push({ t_s: round3((Date.now() - started) / 1000), settled, ...(await memoryOf(control.pid!)) });
      if (samples.length % Math.max(1, Math.round(30 / SAMPLE_S)) === 0) console.log(`${samples.at(-1)!.t_s} s: ${settled}/${TRIALS} trials, control worker ${samples.at(-1)!.rss_mb} MB`);
      await Promise.race([result, sleep(SAMPLE_S * 1000)]);
    }
    const outcome = await result;
    const seconds = (Date.now() - started) / 1000;
    samples.push({ t_s: round3(seconds), settled: outcome.done + outcome.failed + outcome.stopped + (outcome.cancelled ?? 0), ...(await memoryOf(control.pid!)) });

    const chain = await chainOf(client, id, `${control.pid}@${os.hostname()}`);
    const childEvents = await Promise.all(chain.childIds.slice(0, 5).map(async (c) => ((await client.workflow.getHandle(c).fetchHistory()).events ?? []).length));
    // growth is judged on the second half: warm-up (bundle, first caches, V8 sizing its heap) is over by then
    const secondHalf = samples.filter((s) => s.settled >= TRIALS * 0.5);
    const steady = samples.filter((s) => s.settled >= TRIALS * 0.1 && s.settled <= TRIALS * 0.9);
    const steadyRate = steady.length >= 2 ? (steady.at(-1)!.settled - steady[0].settled) / (steady.at(-1)!.t_s - steady[0].t_s) : TRIALS / seconds;
    const rss = samples.map((s) => s.rss_mb);
    const slopePer1000 = round3(slope(secondHalf.map((s) => s.settled / 1000), secondHalf.map((s) => s.rss_mb)));
    const events = chain.runs.map((r) => r.events);
    const figures = {
      trials: TRIALS,
      done: outcome.done,
      failed: outcome.failed,
      seconds: round3(seconds),
      trials_per_s: round3(TRIALS / seconds),
      trials_per_s_steady: round3(steadyRate),
      control_rss_first_mb: rss[0],
      control_rss_last_mb: rss[rss.length - 1],
      control_rss_max_mb: Math.max(...rss),
      control_rss_second_half_slope_mb_per_1000_trials: slopePer1000,
      control_node_options: CONTROL_NODE_OPTIONS,
      control_node_flags: CONTROL_NODE_FLAGS.join(' '),
      sweep_runs: chain.runs.length,
      history_events_per_run_max: Math.max(...events),
      history_events_per_run_mean: Math.round(events.reduce((a, b) => a + b, 0) / events.length),
      trial_workflow_events_sampled: childEvents,
      foreign_workflow_tasks: chain.foreign,
    };
    const extrapolated =
      TRIALS < EXTRAPOLATE_TO
        ? {
            note: `EXTRAPOLATED from ${TRIALS} measured trials to ${EXTRAPOLATE_TO}, not measured: time at the steady rate, RSS growing at the second half's slope (none if it fell)`,
            trials: EXTRAPOLATE_TO,
            seconds: Math.round(seconds + (EXTRAPOLATE_TO - TRIALS) / steadyRate),
            control_rss_mb: round3(figures.control_rss_last_mb + (Math.max(0, slopePer1000) * (EXTRAPOLATE_TO - TRIALS)) / 1000),
          }
        : undefined;
    const goals = {
      [`control worker RSS < ${GOAL_RSS_MB} MB (max ${figures.control_rss_max_mb} MB)`]: figures.control_rss_max_mb < GOAL_RSS_MB,
      [`RSS flat: second-half slope ${slopePer1000} MB per 1000 trials (< ${FLAT_MB_PER_1000})`]: slopePer1000 < FLAT_MB_PER_1000,
      'every trial done': outcome.done === TRIALS,
      'no workflow task run by another worker': chain.foreign === 0,
    };
    // a run with other control-worker options keeps its own file, beside the default one
    await saveResults(CONTROL_NODE_OPTIONS ? 'scale-control-node-options' : 'scale', { ...machine, hosts: HOSTS, slots_per_host: SLOTS, workflow_id: id, figures, extrapolated, goals, runs: chain.runs, samples });
    console.table([figures]);
    if (extrapolated) console.table([extrapolated]);
    console.table(goals);
  } finally {
    const alive = [...hosts, control].filter((c) => c.exitCode === null);
    for (const child of alive) child.kill('SIGTERM');
    await Promise.all(alive.map((c) => once(c, 'exit')));
    await connection.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
