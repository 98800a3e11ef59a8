import type { Run } from './mlflow-responses';

/**
 * What a registered model version says about itself, as MLflow version tags: nobody should need
 * to open the run behind a version to learn which architecture, input size, dataset or accuracy
 * it has. `registerModel` writes them from the run it registers, in the same call that creates
 * the version (and completes them on a retry that finds the version made), so no version lacks
 * them; `gflow list models` and `gflow show model` read them back. Keys are the run's own keys.
 */
export const VersionTag = {
  architecture: 'model.architecture',
  inputSize: 'model.input_size',
  task: 'task.type',
  site: 'site.experiment',
  customer: 'site.customer',
  region: 'site.region',
  plant: 'site.plant',
  zone: 'site.zone',
  datasetUri: 'data.path',
  datasetVersion: 'data.version',
  epochs: 'train.epochs',
  epochsCompleted: 'train.epochs_completed',
  mAP50: 'det.mAP50',
  mAP50_95: 'det.mAP50_95',
  latencyP95: 'sys.latency_ms_p95',
  backend: 'quant.backend',
  precision: 'quant.precision',
  accuracyDrop: 'comparison.accuracy_drop_mAP50',
  accuracyDrop50_95: 'comparison.accuracy_drop_mAP50_95',
  speedup: 'comparison.speedup_ratio',
} as const;
export type VersionTag = (typeof VersionTag)[keyof typeof VersionTag];

/** Scenario params (`scenarios/tracking-fields.ts`) a version is described by. */
const FROM_PARAMS: VersionTag[] = [VersionTag.architecture, VersionTag.inputSize, VersionTag.epochs];
/** Run tags: the site, the task, the dataset, and a variant's backend and precision. */
const FROM_TAGS: VersionTag[] = [
  VersionTag.task,
  VersionTag.site,
  VersionTag.customer,
  VersionTag.region,
  VersionTag.plant,
  VersionTag.zone,
  VersionTag.datasetUri,
  VersionTag.datasetVersion,
  VersionTag.backend,
  VersionTag.precision,
];
/**
 * Metrics. A variant's run logs its own model's figures as `quant.*` (the original's as
 * `orig.*`): the version is the quantized model, so `quant.det.mAP50` is its `det.mAP50`.
 */
const FROM_METRICS: VersionTag[] = [
  VersionTag.epochsCompleted,
  VersionTag.mAP50,
  VersionTag.mAP50_95,
  VersionTag.latencyP95,
  VersionTag.accuracyDrop,
  VersionTag.accuracyDrop50_95,
  VersionTag.speedup,
];

const pairs = (list: { key: string; value: string }[] | undefined) => new Map((list ?? []).map((kv) => [kv.key, kv.value]));

/** The version tags the run that produced a model supports; what the run never recorded is left out (a wrapped script logs no architecture). */
export function versionTags(run: Run): Record<string, string> {
  const params = pairs(run.data.params);
  const tags = pairs(run.data.tags);
  const metrics = new Map((run.data.metrics ?? []).filter((m) => Number.isFinite(m.value)).map((m) => [m.key, m.value]));
  const out: Record<string, string> = {};
  for (const key of FROM_PARAMS) if (params.has(key)) out[key] = params.get(key)!;
  for (const key of FROM_TAGS) if (tags.has(key)) out[key] = tags.get(key)!;
  for (const key of FROM_METRICS) {
    const value = metrics.get(key) ?? metrics.get(`quant.${key}`);
    if (value !== undefined) out[key] = String(value);
  }
  return out;
}

/**
 * What a benchmark of one registered version (`models:/<name>/<version>`, as a pipeline's champion
 * benchmarks name theirs) adds to that version: its latency p95 on the site's data, known only now
 * for a trained model, and the run that measured it. Nothing when the run measured no p95.
 */
export function benchmarkTags(run: Run): Record<string, string> {
  const p95 = run.data.metrics?.find((m) => m.key === VersionTag.latencyP95 && Number.isFinite(m.value));
  return p95 ? { [VersionTag.latencyP95]: String(p95.value), [BENCHMARK_RUN_TAG]: run.info.run_id } : {};
}

/** The benchmark run a version's `sys.latency_ms_p95` comes from. */
export const BENCHMARK_RUN_TAG = 'benchmark.run_id';

/** The tags of `wanted` a version lacks or holds with another value: what a retry still has to set. */
export function missingTags(wanted: Record<string, string>, present: { key: string; value: string }[] | undefined): Record<string, string> {
  const have = pairs(present);
  return Object.fromEntries(Object.entries(wanted).filter(([key, value]) => have.get(key) !== value));
}
