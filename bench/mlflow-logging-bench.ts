import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MetricStream } from '../activities/gpu/metric-stream';
import { logSteps } from '../activities/tracking/activities';
import { MlflowClient, mlflowClientFor } from '../activities/tracking/mlflow-client';
import { loadSettings } from '../common/settings';
import { envInt, machineAtStart, REPO, round3, saveResults } from './bench-env';

/**
 * MLflow logging of a training history, side by side against the same MLflow server:
 * (a) GuardianFlow's path — the train activity's MetricStream delivering each epoch through
 * `logSteps` (the GPU worker's `logMetrics`; epochs that queue behind a request go together), (b) the MLflow Python client's `log_metric` loop,
 * (c) its `log_batch` per epoch, (d) its `log_batch` of the whole history at the end.
 * Every runner's data is counted back from MLflow's metric history.
 * The fast runners run BENCH_REPEATS times, interleaved, and their median counts (the machine
 * is shared); the log_metric loop runs once.
 * Needs the dev stack (`gflow dev up`). Env: BENCH_EPOCHS (300), BENCH_METRICS (40), BENCH_REPEATS (3).
 */

const EPOCHS = envInt('BENCH_EPOCHS', 300);
const METRICS = envInt('BENCH_METRICS', 40);
const REPEATS = envInt('BENCH_REPEATS', 3);
const EXPERIMENT = 'bench/mlflow-logging';
/** Run-to-run spread of the same runner on this shared machine: "no slower" allows this much. */
const NOISE = 0.05;

interface Row {
  runner: string;
  requests: number;
  /** Median of the runs (the log_metric loop runs once: it takes minutes). */
  seconds: number;
  runs: number;
  values_per_s: number;
  /** This runner's time over GuardianFlow's (> 1: GuardianFlow is that many times faster). */
  vs_guardianflow: number;
  /** Points MLflow holds for each run of this runner (EPOCHS × METRICS when all arrived). */
  points_in_mlflow: number[];
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The same keys, steps and values as bench/mlflow_logging.py. */
function epochMetrics(epoch: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: METRICS }, (_, m) => [`bench.m${String(m).padStart(2, '0')}`, m + epoch / 1000]));
}

/** The product's path: one MetricStream per training, one push per epoch, the GPU worker's `logMetrics`. */
async function guardianflow(mlflow: MlflowClient, experimentId: string): Promise<{ runId: string; seconds: number; requests: number }> {
  const run = await mlflow.createRun({ experimentId, runName: 'guardianflow-metric-stream', tags: [] });
  let requests = 0;
  const stream = new MetricStream((steps) => {
    requests++;
    return logSteps(mlflow, run.run_id, steps);
  });
  const started = performance.now();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) stream.push({ step: epoch, metrics: epochMetrics(epoch) });
  await stream.close();
  const seconds = (performance.now() - started) / 1000;
  await mlflow.updateRun(run.run_id, 'FINISHED', Date.now());
  return { runId: run.run_id, seconds, requests };
}

async function python(mode: string, trackingUri: string, interpreter: string): Promise<{ runId: string; seconds: number }> {
  const { stdout } = await promisify(execFile)(
    interpreter,
    [path.join(REPO, 'bench/mlflow_logging.py'), '--tracking-uri', trackingUri, '--experiment', EXPERIMENT, '--mode', mode, '--epochs', String(EPOCHS), '--metrics', String(METRICS)],
    { env: { ...process.env, MLFLOW_TRACKING_URI: trackingUri, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' }, maxBuffer: 1 << 24 },
  );
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { run_id: string; seconds: number };
  return { runId: out.run_id, seconds: out.seconds };
}

/** Points MLflow holds for the run, over every key: what arrived, not what was sent. */
async function pointsIn(mlflow: MlflowClient, runId: string): Promise<number> {
  let points = 0;
  for (const key of Object.keys(epochMetrics(1))) points += (await mlflow.getMetricHistory(runId, key)).length;
  return points;
}

async function main(): Promise<void> {
  const machine = machineAtStart();
  const settings = loadSettings();
  const mlflow = mlflowClientFor(settings);
  const experimentId = await mlflow.ensureExperiment(EXPERIMENT);
  const values = EPOCHS * METRICS;
  // the product's request count is what its stream sent (measured); the Python runners' are fixed by their loops
  const runners: { runner: string; requests: number; once?: boolean; run: () => Promise<{ runId: string; seconds: number; requests?: number }> }[] = [
    { runner: 'GuardianFlow: MetricStream → logSteps (queued epochs in one log-batch)', requests: 0, run: () => guardianflow(mlflow, experimentId) },
    { runner: 'MLflow Python client: log_metric loop', requests: values, once: true, run: () => python('log_metric', settings.mlflow.url, settings.python) },
    { runner: 'MLflow Python client: log_batch per epoch', requests: EPOCHS, run: () => python('log_batch_epoch', settings.mlflow.url, settings.python) },
    { runner: 'MLflow Python client: log_batch of the whole history', requests: Math.ceil(values / 1000), run: () => python('log_batch_all', settings.mlflow.url, settings.python) },
  ];
  const measured = runners.map(() => ({ seconds: [] as number[], points: [] as number[] }));
  for (let repeat = 1; repeat <= REPEATS; repeat++) {
    for (const [i, r] of runners.entries()) {
      if (r.once && repeat > 1) continue;
      const { runId, seconds, requests } = await r.run();
      if (requests !== undefined) r.requests = Math.max(r.requests, requests);
      measured[i].seconds.push(seconds);
      measured[i].points.push(await pointsIn(mlflow, runId));
      console.log(`${r.runner}: ${seconds.toFixed(2)} s`);
    }
  }
  const ours = median(measured[0].seconds);
  const rows: Row[] = runners.map((r, i) => {
    const seconds = median(measured[i].seconds);
    return {
      runner: r.runner,
      requests: r.requests,
      seconds: round3(seconds),
      runs: measured[i].seconds.length,
      values_per_s: Math.round(values / seconds),
      vs_guardianflow: round3(seconds / ours),
      points_in_mlflow: measured[i].points,
    };
  });
  const goals = {
    'at least 3x the log_metric loop': rows[1].vs_guardianflow >= 3,
    [`no slower than log_batch per epoch (within ${NOISE * 100} %)`]: rows[2].vs_guardianflow >= 1 - NOISE,
    [`no slower than log_batch of the whole history (within ${NOISE * 100} %)`]: rows[3].vs_guardianflow >= 1 - NOISE,
    'every value arrived': rows.every((r) => r.points_in_mlflow.every((p) => p === values)),
  };
  await saveResults('mlflow-logging', { ...machine, epochs: EPOCHS, metrics: METRICS, values, repeats: REPEATS, rows, samples_s: Object.fromEntries(runners.map((r, i) => [r.runner, measured[i].seconds.map(round3)])), goals });
  console.table(rows);
  console.table(goals);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
