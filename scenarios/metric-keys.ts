/**
 * The metric keys GuardianFlow's runs log (docs/architecture.md §5), so that a scenario naming a metric no run
 * will ever log is refused at validation: otherwise a sweep picks no best trial, early stopping
 * never fires and a gate finds nothing to compare, all without a word.
 *
 * Keys are exact names plus three patterns: `det.ap50.<class>` (a class of `task.classes`),
 * `sys.bs<N>.<latency_ms|latency_ms_p50|latency_ms_p95|latency_ms_p99|fps|preprocess_ms|inference_ms|postprocess_ms|gpu_memory_mb>`
 * (N in `benchmark.batch_sizes`) and `train.lr_pg<N>` (one per optimizer parameter group). Which keys
 * a field accepts depends on the runs it reads: a sweep's trials are train runs, an infer
 * comparison reads benchmarks, a comparison of `run_ids` may read any run, quantized ones
 * included (`orig.*`, `quant.*`, `comparison.*`).
 *
 * The lists mirror what the executors emit (executors/train.py, executors/benchmark.py,
 * executors/mot_metrics.py) and the workflows add (train stage, workflows/comparison-metrics.ts);
 * a key added there is added here. Pure: the workflow validates its own input with it.
 */

/** Which runs a metric is read from. */
export const MetricSource = { train: 'train', benchmark: 'benchmark', anyRun: 'any run' } as const;
export type MetricSource = (typeof MetricSource)[keyof typeof MetricSource];

export const Goal = { maximize: 'maximize', minimize: 'minimize' } as const;
export type Goal = (typeof Goal)[keyof typeof Goal];

/** What the scenario says about the runs, for the patterns. */
export interface MetricContext {
  source: MetricSource;
  /** `task.classes`: the classes `det.ap50.<class>` may name. */
  classes: readonly string[];
  /** `benchmark.batch_sizes`: the N of `sys.bs<N>.*`. */
  batchSizes: readonly number[];
}

/**
 * Short names the seeds write (`metric: str = "mAP50"`), resolved to the full key by the schema
 * so that workflows, tags and charts only ever see full keys.
 */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  mAP50: 'det.mAP50',
  mAP50_95: 'det.mAP50_95',
  'mAP50-95': 'det.mAP50_95',
  latency_p50: 'sys.latency_ms_p50',
  latency_p95: 'sys.latency_ms_p95',
  latency_p99: 'sys.latency_ms_p99',
};

/** ultralytics' own names (which MLflow refuses): never accepted, but the suggestion is exact. */
export const ULTRALYTICS_NAMES: Readonly<Record<string, string>> = {
  'metrics/precision(B)': 'det.precision',
  'metrics/recall(B)': 'det.recall',
  'metrics/mAP50(B)': 'det.mAP50',
  'metrics/mAP50-95(B)': 'det.mAP50_95',
  'train/box_loss': 'det.box_loss',
  'train/cls_loss': 'det.cls_loss',
  'train/dfl_loss': 'det.dfl_loss',
  'val/box_loss': 'det.val_box_loss',
  'val/cls_loss': 'det.val_cls_loss',
  'val/dfl_loss': 'det.val_dfl_loss',
};

const DETECTION = ['det.mAP50', 'det.mAP50_95', 'det.precision', 'det.recall', 'det.f1'];
const MODEL_FIGURES = ['sys.model_size_mb', 'sys.model_params_m'];
const LATENCY = ['latency_ms', 'latency_ms_p50', 'latency_ms_p95', 'latency_ms_p99', 'fps'];
/** ultralytics' own split of a predict call (its `speed`), per batch: NMS weighs on edge CPUs. */
const STAGES = ['preprocess_ms', 'inference_ms', 'postprocess_ms'];
/** Per batch size only: each batch size's own peak of torch's CUDA allocator (GPU hosts). */
const PER_BATCH_ONLY = ['gpu_memory_mb'];
const MOT = ['mot.hota', 'mot.deta', 'mot.assa', 'mot.mota', 'mot.motp', 'mot.idf1', 'mot.id_switches', 'mot.frag', 'mot.mt', 'mot.ml'];

/** executors/train.py (final and per-epoch values; `sys.gpu_util_pct` on GPU hosts only) and what the train stage adds. */
const TRAIN_KEYS = [
  ...DETECTION,
  ...['box', 'cls', 'dfl'].flatMap((loss) => [`det.${loss}_loss`, `det.val_${loss}_loss`]),
  ...MODEL_FIGURES,
  'sys.epoch_time_s',
  'sys.gpu_util_pct',
  'train.batch_size_effective',
  'train.epochs_completed',
  'oom.retries',
];

/** executors/benchmark.py, with executors/mot_metrics.py when `benchmark.tracking` is set. */
const BENCHMARK_KEYS = [
  ...DETECTION,
  ...MODEL_FIGURES,
  'sys.model_gflops',
  ...[...LATENCY, ...STAGES].map((k) => `sys.${k}`),
  'sys.best_batch_size',
  'sys.best_fps',
  'sys.cpu_util_pct',
  'sys.gpu_memory_peak_mb',
  'sys.gpu_util_pct',
  'sys.gpu_power_w',
  ...MOT,
];

/** A quantization variant's run: both benchmarks, prefixed, and workflows/comparison-metrics.ts. */
const QUANT_KEYS = [
  ...BENCHMARK_KEYS.flatMap((k) => [`orig.${k}`, `quant.${k}`]),
  'comparison.accuracy_drop_mAP50',
  'comparison.accuracy_drop_mAP50_95',
  'comparison.speedup_ratio',
  'comparison.compression_ratio',
];

const EXACT: Record<MetricSource, ReadonlySet<string>> = {
  train: new Set(TRAIN_KEYS),
  benchmark: new Set(BENCHMARK_KEYS),
  'any run': new Set([...TRAIN_KEYS, ...BENCHMARK_KEYS, ...QUANT_KEYS]),
};

/** The documented patterns, with the sources that log them; `orig.`/`quant.` copies of benchmark ones come from quant runs. */
const AP50 = /^det\.ap50\.(.+)$/;
const PER_BATCH = [...LATENCY, ...STAGES, ...PER_BATCH_ONLY];
const BATCH_LATENCY = new RegExp(`^sys\\.bs(\\d+)\\.(${PER_BATCH.join('|')})$`);
const LEARNING_RATE = /^train\.lr_pg\d+$/;

function matchesPattern(key: string, ctx: MetricContext): boolean {
  const anyRun = ctx.source === MetricSource.anyRun;
  const base = anyRun ? key.replace(/^(orig|quant)\./, '') : key;
  const ap50 = AP50.exec(base);
  if (ap50) return ctx.classes.includes(ap50[1]);
  // The runs a comparison of run_ids reads were benchmarked at their own batch sizes.
  const latency = BATCH_LATENCY.exec(base);
  if (latency) return ctx.source !== MetricSource.train && (anyRun || ctx.batchSizes.includes(Number(latency[1])));
  return ctx.source !== MetricSource.benchmark && LEARNING_RATE.test(key);
}

/** The key a metric name stands for: an alias resolved, anything else as given. */
export function resolveMetricAlias(name: string): string {
  return Object.hasOwn(METRIC_ALIASES, name) ? METRIC_ALIASES[name] : name;
}

/** True when runs of `ctx.source` log `key`. */
export function isKnownMetric(key: string, ctx: MetricContext): boolean {
  return EXACT[ctx.source].has(key) || matchesPattern(key, ctx);
}

/** Why `key` is refused (naming the closest key those runs do log), or undefined when it is known. */
export function unknownMetricMessage(key: string, ctx: MetricContext): string | undefined {
  if (isKnownMetric(key, ctx)) return undefined;
  const runs = ctx.source === MetricSource.anyRun ? 'any run' : `a ${ctx.source} run`;
  const elsewhere = isKnownMetric(key, { ...ctx, source: MetricSource.anyRun }) ? ' (other kinds of run log it)' : '';
  const hint = Object.hasOwn(ULTRALYTICS_NAMES, key) && isKnownMetric(ULTRALYTICS_NAMES[key], ctx) ? ULTRALYTICS_NAMES[key] : closest(key, candidates(ctx));
  return `${JSON.stringify(key)} is not a metric ${runs} logs${elsewhere}; did you mean ${hint}? (keys: see docs/architecture.md §5; patterns det.ap50.<class>, sys.bs<N>.latency_ms, train.lr_pg<N>)`;
}

/** The direction a metric improves in when the scenario does not say: losses, latencies, sizes, costs and tracking errors go down. */
export function defaultGoal(key: string): Goal {
  const base = key.replace(/^(orig|quant)\./, '');
  return MINIMISED.some((pattern) => pattern.test(base)) ? Goal.minimize : Goal.maximize;
}

const MINIMISED = [
  /_loss$/,
  /^sys\.(bs\d+\.)?(latency|(preprocess|inference|postprocess)_ms$)/,
  /^sys\.bs\d+\.gpu_memory_mb$/,
  /^sys\.(gpu_memory_peak_mb|model_size_mb|gpu_power_w|model_params_m|model_gflops|epoch_time_s)$/,
  /^mot\.(id_switches|frag|ml)$/,
  /^comparison\.accuracy_drop_/,
  /^oom\.retries$/,
];

/** Every concrete key of the source, patterns spelled out for this scenario's classes and batch sizes. */
function candidates(ctx: MetricContext): string[] {
  const ap50 = ctx.classes.map((c) => `det.ap50.${c}`);
  const perBatch = ctx.source === MetricSource.train ? [] : ctx.batchSizes.flatMap((n) => PER_BATCH.map((k) => `sys.bs${n}.${k}`));
  return [...EXACT[ctx.source], ...ap50, ...perBatch];
}

/** The candidate with the smallest edit distance (case-insensitive); ties go to the earlier one. Also suggests site names (scenarios/site-catalogue.ts). */
export function closest(key: string, names: string[]): string {
  let best = names[0];
  let bestDistance = Infinity;
  for (const name of names) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Levenshtein distance, one row at a time. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = row;
  }
  return previous[b.length];
}
