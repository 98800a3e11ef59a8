import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { MetricStream } from '../activities/gpu/metric-stream';
import { logAll } from '../activities/tracking/activities';
import { MlflowClient } from '../activities/tracking/mlflow-client';
import { loadSettings } from '../common/settings';
import { envInt, machineAtStart, REPO, round3, saveResults } from './bench-env';

/**
 * MLflow logging of a training history, side by side against the same MLflow server:
 * (a) GuardianFlow's path — the train activity's MetricStream delivering each epoch through
 * `logAll` (the GPU worker's `logMetrics`), (b) the MLflow Python client's `log_metric` loop,
 * (c) its `log_batch` per epoch, (d) its `log_batch` of the whole history at the end.
 * Every runner's data is counted back from MLflow's metric history.
 * Needs the dev stack (`gflow dev up`). Env: BENCH_EPOCHS (300), BENCH_METRICS (40).
 */

const EPOCHS = envInt('BENCH_EPOCHS', 300);
const METRICS = envInt('BENCH_METRICS', 40);
const EXPERIMENT = 'bench/mlflow-logging';

interface Row {
  runner: string;
  requests: number;
  seconds: number;
  values_per_s: number;
  /** This runner's time over GuardianFlow's (> 1: GuardianFlow is that many times faster). */
  vs_guardianflow: number;
  points_in_mlflow: number;
}

/** The same keys, steps and values as bench/mlflow_logging.py. */
function epochMetrics(epoch: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: METRICS }, (_, m) => [`bench.m${String(m).padStart(2, '0')}`, m + epoch / 1000]));
}

/** The product's path: one MetricStream per training, one push per epoch, the GPU worker's `logMetrics`. */
async function guardianflow(mlflow: MlflowClient, experimentId: string): Promise<{ runId: string; seconds: number }> {
  const run = await mlflow.createRun({ experimentId, runName: 'guardianflow-metric-stream', tags: [] });
  const stream = new MetricStream((input) => logAll(mlflow, input));
  const started = performance.now();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) stream.push({ runId: run.run_id, metrics: epochMetrics(epoch), step: epoch });
  await stream.close();
  const seconds = (performance.now() - started) / 1000;
  await mlflow.updateRun(run.run_id, 'FINISHED', Date.now());
  return { runId: run.run_id, seconds };
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
  const mlflow = new MlflowClient(settings.mlflow.url);
  const experimentId = await mlflow.ensureExperiment(EXPERIMENT);
  const values = EPOCHS * METRICS;
  const runners: [string, number, () => Promise<{ runId: string; seconds: number }>][] = [
    ['GuardianFlow: MetricStream → logAll (one log-batch per epoch)', EPOCHS, () => guardianflow(mlflow, experimentId)],
    ['MLflow Python client: log_metric loop', values, () => python('log_metric', settings.mlflow.url, settings.python)],
    ['MLflow Python client: log_batch per epoch', EPOCHS, () => python('log_batch_epoch', settings.mlflow.url, settings.python)],
    ['MLflow Python client: log_batch of the whole history', Math.ceil(values / 1000), () => python('log_batch_all', settings.mlflow.url, settings.python)],
  ];
  const measured = [];
  for (const [runner, requests, run] of runners) {
    const { runId, seconds } = await run();
    measured.push({ runner, requests, seconds, runId, points: await pointsIn(mlflow, runId) });
    console.log(`${runner}: ${seconds.toFixed(2)} s`);
  }
  const ours = measured[0].seconds;
  const rows: Row[] = measured.map((m) => ({
    runner: m.runner,
    requests: m.requests,
    seconds: round3(m.seconds),
    values_per_s: Math.round(values / m.seconds),
    vs_guardianflow: round3(m.seconds / ours),
    points_in_mlflow: m.points,
  }));
  const goals = {
    'at least 3x the log_metric loop': rows[1].vs_guardianflow >= 3,
    'no slower than log_batch per epoch': rows[2].vs_guardianflow >= 1,
    'no slower than log_batch of the whole history': rows[3].vs_guardianflow >= 1,
    'every value arrived': rows.every((r) => r.points_in_mlflow === values),
  };
  await saveResults('mlflow-logging', { ...machine, epochs: EPOCHS, metrics: METRICS, values, rows, goals });
  console.table(rows);
  console.table(goals);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
