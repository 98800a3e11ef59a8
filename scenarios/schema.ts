import { z } from 'zod';
import { defaultGoal, Goal, MetricSource, resolveMetricAlias, unknownMetricMessage } from './metric-keys';
import { parseModelReference } from './model-reference';
import { spacePoints, stepDividesRange } from './search-space';
import { DATASET_URI_FORM, isObjectStoreDataset, parseDatasetUri } from './dataset-uri';

/**
 * The scenario schema: the single source of every scenario type (`z.infer`).
 * Pure (no Node built-ins) so workflows can validate input started from the plain Temporal CLI.
 */

export const ExperimentType = { train: 'train', infer: 'infer', quant: 'quant' } as const;
export type ExperimentType = (typeof ExperimentType)[keyof typeof ExperimentType];

export const Design = { single: 'single', sweep: 'sweep', comparison: 'comparison', pipeline: 'pipeline' } as const;
export type Design = (typeof Design)[keyof typeof Design];

export const TaskType = { ppe: 'ppe', fall: 'fall', fire: 'fire', collision: 'collision', stuck: 'stuck' } as const;
export type TaskType = (typeof TaskType)[keyof typeof TaskType];

/** How soon a scenario's jobs leave the GPU pool's queue (scenarios/priority.ts maps each to a Temporal priority key). */
export const PriorityLevel = { urgent: 'urgent', normal: 'normal', background: 'background' } as const;
export type PriorityLevel = (typeof PriorityLevel)[keyof typeof PriorityLevel];

const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
/** The type and design words of run names: a version with one as a `-` part could be read two ways. */
const NAME_WORDS: readonly string[] = [...Object.values(ExperimentType), ...Object.values(Design)];
/** Names that end up in MLflow experiment/model names and workflow ids: no dots, slashes or colons. */
const slug = (what: string) =>
  z.string().regex(SLUG, { error: (iss) => `expected a ${what} of lowercase letters, digits, '-' or '_', got ${JSON.stringify(iss.input)}` });

/**
 * A segment name that joins with '-' in a name (docs/architecture.md §5): `{region}-{plant}` in experiment and
 * model names. Without '-' in the region, the join can be split again, so no two sites share a name.
 */
const NO_HYPHEN = /^[a-z0-9][a-z0-9_]*$/;

/**
 * An ultralytics model config built by name (`yolov8n.yaml`, `rtdetr-l.yaml`) or a local `.yaml`
 * config or `.pt` weights file: no URIs (`:`), nothing is downloaded. A config named `*.pt.yaml`
 * is refused: its run name would be the one of the weights file `*.pt` (scenarios/naming.ts).
 */
const ARCHITECTURE = /^[^:\n\0]+\.(yaml|pt)$(?<!\.pt\.yaml)/;

/** `model.weights`, `comparison.models`: the grammar of scenarios/model-reference.ts. */
export const ModelReferenceSchema = z.string().superRefine((ref, ctx) => {
  const parsed = parseModelReference(ref);
  if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
});

/** A model or dataset listed twice would be two arms with one label (and one heat-map cell). */
const listedOnce =
  <T>(key: (item: T) => string) =>
  (items: T[], ctx: z.RefinementCtx) => {
    items.forEach((item, i) => {
      if (items.findIndex((other) => key(other) === key(item)) < i) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(key(item))} is listed twice` });
    });
  };

/** Any `scheme:/…` (http://, s3://): of these only an `s3://` dataset is read, through the GPU host's dataset cache. */
const URI = /^[a-z][a-z0-9+.-]*:\//i;

const classNames = z
  .array(z.string().regex(/^[\w.-]+$/, { error: (iss) => `expected a class name of letters, digits, '_', '.', '-', got ${JSON.stringify(iss.input)}` }))
  .min(1, { error: 'expected at least one class' })
  .refine((names) => new Set(names).size === names.length, { error: 'class names must be unique' });

export const SiteSchema = z.strictObject({
  customer: slug('customer'),
  region: z.string().regex(NO_HYPHEN, {
    error: (iss) => `expected a region of lowercase letters, digits or '_', got ${JSON.stringify(iss.input)}: no '-', which joins region and plant in the experiment name {customer}/{region}-{plant}/{zone} (use '_')`,
  }),
  plant: slug('plant'),
  zone: slug('zone'),
});

export const TaskSchema = z.strictObject({
  type: z.enum(TaskType),
  classes: classNames,
});

export const ModelSchema = z.strictObject({
  architecture: z.string().regex(ARCHITECTURE, {
    error: (iss) => `expected an ultralytics model config such as yolov8n.yaml, or the path of a local .yaml config or .pt file (not *.pt.yaml), got ${JSON.stringify(iss.input)}`,
  }),
  input_size: z
    .int({ error: (iss) => `expected an integer, got ${JSON.stringify(iss.input)}` })
    .min(32)
    .max(4096)
    .multipleOf(32, { error: (iss) => `expected a multiple of 32, got ${String(iss.input)}` }),
  /** Weights to start from (train), or the model to benchmark (infer) or export (quant). */
  weights: ModelReferenceSchema.nullable().default(null),
});

export const DatasetSchema = z.strictObject({
  path: z
    .string()
    .regex(/\.ya?ml$/, { error: (iss) => `expected the path of a YOLO data .yaml file, got ${JSON.stringify(iss.input)}` })
    .refine((p) => !URI.test(p) || isObjectStoreDataset(p), { error: (iss) => `expected a local path or ${DATASET_URI_FORM} (gflow data push), got ${JSON.stringify(iss.input)}` })
    .superRefine((p, ctx) => {
      const parsed = isObjectStoreDataset(p) ? parseDatasetUri(p) : undefined;
      if (parsed && 'error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
    }),
  version: z.string().min(1),
  dvc_hash: z.string().min(1).optional(),
  image_count: z.int().positive().optional(),
});

export const EnvironmentSchema = z.strictObject({
  device: z
    .string()
    .regex(/^(auto|cpu|cuda(:\d+)?|\d+(,\d+)*)$/, { error: (iss) => `expected auto, cpu, cuda, cuda:N or GPU indices like 0,1, got ${JSON.stringify(iss.input)}` })
    .default('auto'),
  precision: z.enum(['fp32', 'fp16']).default('fp32'),
  seed: z.int().min(0).default(42),
  gpu_pool: slug('GPU pool name').default('default'),
  workers: z.int().min(0).max(32).default(2),
});

/** ultralytics' fraction arguments (`lrf`, `momentum`, `hsv_h`, `mosaic`, …): its cfg check refuses values outside [0, 1]. */
const fraction = z.number().min(0).max(1);

export const TrainingSchema = z.strictObject({
  epochs: z.int().min(1).max(10000),
  batch_size: z.int().min(1).max(1024),
  learning_rate: z.number().positive().max(1),
  optimizer: z.enum(['SGD', 'Adam', 'AdamW', 'NAdam', 'RAdam', 'RMSProp']).default('SGD'),
  patience: z.int().min(0).default(100),
  min_batch_size: z.int().min(1).default(1),
  plots: z.boolean().default(true),
  // The learning-rate schedule and regulariser, as ultralytics names and bounds them (its
  // cfg check: fractions in [0, 1]); left out, ultralytics' defaults apply and its args.yaml shows them.
  /** Final learning rate as a fraction of learning_rate (lr0 × lrf). */
  lrf: fraction.optional(),
  /** Cosine instead of linear decay to lr0 × lrf. */
  cos_lr: z.boolean().optional(),
  /** Epochs of warm-up (fractions allowed). */
  warmup_epochs: z.number().min(0).max(10000).optional(),
  weight_decay: fraction.optional(),
  /** SGD momentum, or Adam's beta1. */
  momentum: fraction.optional(),
}).superRefine((t, ctx) => {
  if (t.min_batch_size > t.batch_size) {
    ctx.addIssue({ code: 'custom', path: ['min_batch_size'], message: `expected at most training.batch_size (${t.batch_size}), got ${t.min_batch_size}: it is the floor OOM halving stops at` });
  }
});

/**
 * ultralytics' training-time augmentation, under its own names and within its own bounds (the
 * fractions and probabilities of its cfg check in [0, 1]; angles in degrees; `close_mosaic` in
 * epochs). Each field left out keeps ultralytics' default; the given ones are passed to
 * `model.train` and recorded as `aug.*` params. The main lever for small per-site datasets.
 */
export const AugmentationSchema = z.strictObject({
  hsv_h: fraction.optional(),
  hsv_s: fraction.optional(),
  hsv_v: fraction.optional(),
  /** Rotation, ± degrees. */
  degrees: z.number().min(0).max(180).optional(),
  translate: fraction.optional(),
  /** Scale gain, ±: 0.5 scales between 0.5× and 1.5×. */
  scale: fraction.optional(),
  /** Shear, ± degrees. */
  shear: z.number().min(0).max(90).optional(),
  /** Perspective fraction (ultralytics suggests 0–0.001). */
  perspective: fraction.optional(),
  flipud: fraction.optional(),
  fliplr: fraction.optional(),
  bgr: fraction.optional(),
  mosaic: fraction.optional(),
  mixup: fraction.optional(),
  cutmix: fraction.optional(),
  copy_paste: fraction.optional(),
  /** Mosaic off for the last N epochs (0 keeps it on to the end). */
  close_mosaic: z.int().min(0).max(10000).optional(),
});

/** A frame sequence with MOTChallenge ground truth, for tracking metrics (HOTA, MOTA, IDF1, …). */
export const TrackingSchema = z.strictObject({
  sequence: z.string().min(1),
  ground_truth: z.string().regex(/\.txt$/, { error: (iss) => `expected a MOTChallenge gt.txt file, got ${JSON.stringify(iss.input)}` }),
  tracker: z.enum(['bytetrack', 'botsort']).default('bytetrack'),
});

export const BenchmarkSchema = z.strictObject({
  batch_sizes: z.array(z.int().min(1)).min(1).default([1]),
  warmup_runs: z.int().min(0).default(10),
  benchmark_runs: z.int().min(1).default(100),
  conf_threshold: z.number().min(0).max(1).default(0.25),
  iou_threshold: z.number().min(0).max(1).default(0.7),
  /** The deployment's latency limit per batch call (p95, ms): the best batch size is the fastest within it. */
  latency_budget_ms: z.number().positive().optional(),
  tracking: TrackingSchema.optional(),
});

export const QuantVariantSchema = z.strictObject({
  backend: z.enum(['onnx', 'openvino', 'tensorrt']),
  precision: z.enum(['fp32', 'fp16', 'int8']),
});

export const QuantizationSchema = z.strictObject({
  variants: z.array(QuantVariantSchema).min(1),
  calibration_size: z.int().min(1).default(300),
  source_run_id: z.string().min(1).optional(),
});

const sweepValue = z.union([z.number(), z.string(), z.boolean()]);

/** A metric key; the seeds' short names (`mAP50`) become full keys here, so workflows only see full keys. Checked against the runs that log it in ScenarioSchema. */
const metricName = z.string().min(1).transform(resolveMetricAlias);
/** `goal` left out follows the metric: losses, latencies, sizes go down (scenarios/metric-keys.ts). */
const withGoal = <T extends { metric: string; goal?: Goal }>(block: T) => ({ ...block, goal: block.goal ?? defaultGoal(block.metric) });

const NOT_SWEEPABLE = 'not a sweepable parameter';
/**
 * zod's records drop a `__proto__` key without a word (copying it would replace the prototype),
 * so it is reported here, before the record sees it, like any other unknown name.
 */
function reportProtoKey(input: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof input === 'object' && input !== null && Object.hasOwn(input, '__proto__')) {
    ctx.addIssue({ code: 'custom', path: ['__proto__'], message: `${NOT_SWEEPABLE}; ${SWEEPABLE_NAMES}` });
  }
  return input;
}

/** `sweep.parameters`: parameter → values (names and values are checked by checkSweepParameters). */
export const SweepParametersSchema = z.preprocess<unknown, z.ZodRecord<z.ZodString, z.ZodArray<typeof sweepValue>>, Record<string, z.input<typeof sweepValue>[]>>(
  reportProtoKey,
  z
    // Names are checked against SWEEPABLE in ScenarioSchema, so every unknown one gets the same message.
    .record(z.string(), z.array(sweepValue).min(1))
    .refine((parameters) => Object.keys(parameters).length > 0, { error: `expected at least one parameter to sweep, e.g. learning_rate: [0.001, 0.01]` }),
);

/** How a sweep picks its trials; `bayesian` (the seeds' word for Optuna's search) is read as `tpe`. */
export const SweepStrategy = { grid: 'grid', random: 'random', tpe: 'tpe' } as const;
export type SweepStrategy = (typeof SweepStrategy)[keyof typeof SweepStrategy];
const SWEEP_STRATEGY_WORDS = [...Object.values(SweepStrategy), 'bayesian'] as const;

/** Trials a `tpe` sweep may run: the sweep carries every finished trial (params, value) for the sampler, so the list stays small. */
export const MAX_TPE_RUNS = 500;

/** What every spelling of a range shares: `log` (sample on a log scale) and `step` (the points low, low + step, …, high). */
const rangeOptions = { log: z.boolean().default(false), step: z.number().positive().optional() };

/**
 * The checks of a range in the words it was written with (`max` or `high`, `int.1`): high above
 * low, log above 0, and a step only on a linear scale (Optuna's distributions allow no log step).
 */
const checkEnds =
  (names: { low: PropertyKey[]; high: PropertyKey[] }) =>
  (r: { low: number; high: number; log: boolean; step?: number }, ctx: z.RefinementCtx) => {
    const word = (at: PropertyKey[]) => at.map(String).join('.');
    if (r.high <= r.low) ctx.addIssue({ code: 'custom', path: names.high, message: `expected more than ${word(names.low)} (${r.low}), got ${r.high}` });
    if (r.log && r.low <= 0) ctx.addIssue({ code: 'custom', path: names.low, message: `expected more than 0 with log: true, got ${r.low}` });
    if (r.log && r.step !== undefined) ctx.addIssue({ code: 'custom', path: ['step'], message: 'a step cannot go with log: true (a log range is sampled continuously)' });
  };

/**
 * The spellings of a numeric range, all read as `{ low, high, log, step }`: `{ min, max }` (as
 * W&B and Katib write it), `{ int: [lo, hi] }` (an integer field's range, marked `int`), and
 * Optuna's `{ low, high }`, which `tpe` sweeps used first and which stays the same thing.
 */
const RANGE_SPELLINGS = {
  min: z
    .strictObject({ min: z.number(), max: z.number(), ...rangeOptions })
    .transform(({ min, max, ...rest }) => ({ low: min, high: max, ...rest }))
    .superRefine(checkEnds({ low: ['min'], high: ['max'] })),
  int: z
    .strictObject({ int: z.tuple([z.int(), z.int()], { error: 'expected [low, high], two integers' }), ...rangeOptions })
    .transform(({ int: [low, high], ...rest }) => ({ low, high, ...rest, int: true as const }))
    .superRefine(checkEnds({ low: ['int', 0], high: ['int', 1] })),
  /** `int: true` is how an `{ int: [lo, hi] }` range reads back: the workflow checks the parsed scenario again. */
  low: z.strictObject({ low: z.number(), high: z.number(), ...rangeOptions, int: z.literal(true).optional() }).superRefine(checkEnds({ low: ['low'], high: ['high'] })),
} as const;

/** A numeric range of a sweep parameter, whatever its spelling; `int` when written `{ int: [lo, hi] }`. */
export type SearchRange = z.output<typeof RANGE_SPELLINGS.low>;

/** The spelling a range is written in: by the keys that name one (`int` as a pair), else Optuna's `low`/`high`. */
function rangeSpelling(value: object): z.ZodType {
  if (Object.hasOwn(value, 'int') && !Object.hasOwn(value, 'low')) return RANGE_SPELLINGS.int;
  if (Object.hasOwn(value, 'min') || Object.hasOwn(value, 'max')) return RANGE_SPELLINGS.min;
  return RANGE_SPELLINGS.low;
}

type SweepValue = z.infer<typeof sweepValue>;
/** One parameter of a sweep's space: values to pick from, or a range (sampled by random and tpe, expanded by grid when stepped). */
export type ParameterSpace = SweepValue[] | SearchRange;

const sweepValues = z.array(sweepValue).min(1);
/**
 * A list or a range, told apart by the input's shape rather than a zod union, so a bad list
 * keeps the list's own message (`learning_rate.1: …`) instead of "expected a list or a mapping".
 */
const parameterSpace = z.unknown().transform((value, ctx): ParameterSpace => {
  if (typeof value !== 'object' || value === null) {
    ctx.addIssue({ code: 'custom', message: `expected a list of values, or a range such as { min: 0.0001, max: 0.1, log: true } or { int: [8, 64] }, got ${value === null ? 'null' : `${typeof value} ${JSON.stringify(value)}`}` });
    return z.NEVER;
  }
  const checked = (Array.isArray(value) ? sweepValues : rangeSpelling(value)).safeParse(value);
  if (checked.success) return checked.data as ParameterSpace;
  for (const issue of checked.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
  return z.NEVER;
});

/** A sweep's `parameters`: lists (any strategy) or ranges (`tpe`); names and values are checked by checkSweepParameters. */
const SearchSpaceSchema = z.preprocess<unknown, z.ZodRecord<z.ZodString, typeof parameterSpace>, Record<string, unknown>>(
  reportProtoKey,
  z.record(z.string(), parameterSpace).refine((parameters) => Object.keys(parameters).length > 0, { error: `expected at least one parameter to sweep, e.g. learning_rate: [0.001, 0.01]` }),
);

/** How a sweep stops weak trials early: the median rule, or Optuna's asynchronous successive halving. */
export const EarlyStoppingRule = { median: 'median', asha: 'asha' } as const;
export type EarlyStoppingRule = (typeof EarlyStoppingRule)[keyof typeof EarlyStoppingRule];
const MEDIAN_FIELDS = ['min_completed', 'grace_epochs'];
const ASHA_FIELDS = ['min_resource', 'reduction_factor', 'min_early_stopping_rate'];

/** A field of one rule written under the other is refused by name (the defaults make them otherwise silently ignored). */
function checkRuleFields(input: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const rule = (input as Record<string, unknown>).rule ?? EarlyStoppingRule.median;
  const foreign = rule === EarlyStoppingRule.asha ? MEDIAN_FIELDS : rule === EarlyStoppingRule.median ? ASHA_FIELDS : [];
  for (const key of foreign) if (Object.hasOwn(input, key)) ctx.addIssue({ code: 'custom', path: [key], message: `goes with rule: ${rule === EarlyStoppingRule.asha ? 'median' : 'asha'}, not rule: ${typeof rule === 'string' ? rule : JSON.stringify(rule)}` });
  return input;
}

/**
 * `median`: a trial below the median of completed trials at the same epoch stops.
 * `asha`: Optuna's SuccessiveHalvingPruner: at the rung epochs min_resource × reduction_factor^(min_early_stopping_rate + k)
 * a trial goes on only while among the best 1/reduction_factor of the trials that reached that rung.
 */
const EarlyStoppingObject = z.strictObject({
  rule: z.enum(EarlyStoppingRule).default(EarlyStoppingRule.median),
  /** median: completed trials needed before any trial is stopped. */
  min_completed: z.int().min(1).optional(),
  /** median: epochs every trial runs before the rule applies. */
  grace_epochs: z.int().min(1).optional(),
  /** asha: the first rung's epoch (before the rate). */
  min_resource: z.int().min(1).optional(),
  /** asha: η, the rung spacing and the fraction (1/η) promoted at each rung. */
  reduction_factor: z.int().min(2).optional(),
  /** asha: s, which shifts the first rung to min_resource × η^s. */
  min_early_stopping_rate: z.int().min(0).optional(),
});

/** The parsed rule, each with its own fields and defaults only. */
export type EarlyStopping =
  | { rule: 'median'; min_completed: number; grace_epochs: number }
  | { rule: 'asha'; min_resource: number; reduction_factor: number; min_early_stopping_rate: number };

export const EarlyStoppingSchema = z.preprocess<unknown, z.ZodPipe<typeof EarlyStoppingObject, z.ZodTransform<EarlyStopping, z.output<typeof EarlyStoppingObject>>>, z.input<typeof EarlyStoppingObject>>(
  checkRuleFields,
  EarlyStoppingObject.transform((r): EarlyStopping =>
    r.rule === EarlyStoppingRule.asha
      ? { rule: r.rule, min_resource: r.min_resource ?? 1, reduction_factor: r.reduction_factor ?? 3, min_early_stopping_rate: r.min_early_stopping_rate ?? 0 }
      : { rule: r.rule, min_completed: r.min_completed ?? 3, grace_epochs: r.grace_epochs ?? 1 },
  ),
);

export const SweepSchema = z
  .strictObject({
    parameters: SearchSpaceSchema,
    strategy: z
      .enum(SWEEP_STRATEGY_WORDS)
      .default(SweepStrategy.grid)
      .transform((s): SweepStrategy => (s === 'bayesian' ? SweepStrategy.tpe : s)),
    /**
     * Left out: every combination of the space (a grid runs whole). Required for `tpe` (checked on
     * the raw `sweep`, see requireTpeBudget) and for `random` with a range (checkSweepStrategy).
     */
    max_runs: z.int().min(1).optional(),
    parallel: z.int().min(1).default(1),
    metric: metricName.default('det.mAP50_95'),
    goal: z.enum(Goal).optional(),
    /** The random order uses all of it (up to 2^53 − 1), not only the low 32 bits. */
    seed: z.int().min(0).default(0),
    fail_fast: z.boolean().default(false),
    early_stopping: EarlyStoppingSchema.optional(),
  })
  .transform(withGoal);

export const ComparisonSchema = z
  .strictObject({
    architectures: z.array(z.string().regex(ARCHITECTURE)).min(2).optional(),
    run_ids: z.array(z.string().regex(/^[0-9a-f]{32}$/, { error: (iss) => `expected a 32-hex MLflow run id, got ${JSON.stringify(iss.input)}` })).min(2).optional(),
    variants: z.array(QuantVariantSchema).min(1).optional(),
    datasets: z.array(DatasetSchema).min(1).superRefine(listedOnce((d) => d.path)).optional(),
    /** With `datasets`: every model × every dataset (the generalisation matrix); else `model.weights` alone. */
    models: z.array(ModelReferenceSchema).min(1).superRefine(listedOnce((m) => m)).optional(),
    metric: metricName.default('det.mAP50'),
    goal: z.enum(Goal).optional(),
    parallel: z.int().min(1).default(2),
  })
  .refine((c) => [c.architectures, c.run_ids, c.variants, c.datasets].filter((v) => v !== undefined).length === 1, {
    error: 'expected exactly one of architectures, run_ids, variants, datasets',
  })
  .refine((c) => c.models === undefined || c.datasets !== undefined, { path: ['models'], error: 'models go with datasets (the model × dataset matrix)' })
  .transform(withGoal);

export const PromotionSchema = z
  .strictObject({
    metric: metricName.default('det.mAP50_95'),
    /** Defaults from the metric: a loss or a latency improves by going down. */
    goal: z.enum(Goal).optional(),
    min_improvement: z.number().default(0),
    max_accuracy_drop: z.number().min(0).default(0.01),
  })
  .transform(withGoal);

/** Sweep parameter → the scenario block and field it overrides in each trial. */
const SHORT_NAMES = {
  learning_rate: ['training', 'learning_rate'],
  batch_size: ['training', 'batch_size'],
  epochs: ['training', 'epochs'],
  optimizer: ['training', 'optimizer'],
  patience: ['training', 'patience'],
  lrf: ['training', 'lrf'],
  cos_lr: ['training', 'cos_lr'],
  warmup_epochs: ['training', 'warmup_epochs'],
  weight_decay: ['training', 'weight_decay'],
  momentum: ['training', 'momentum'],
  input_size: ['model', 'input_size'],
  architecture: ['model', 'architecture'],
  seed: ['environment', 'seed'],
} as const;

const FIELD_SCHEMAS = { training: TrainingSchema, model: ModelSchema, environment: EnvironmentSchema, augmentation: AugmentationSchema } as const;
type SweptBlock = keyof typeof FIELD_SCHEMAS;

/**
 * Sweep parameter → the scenario block and field it overrides in each trial: the short names
 * above (`learning_rate`), the dotted path of each but `architecture` (`training.learning_rate`), and
 * `augmentation.<field>` for every augmentation field (`augmentation.mosaic`).
 */
export const SWEEPABLE: Readonly<Record<string, readonly [SweptBlock, string]>> = {
  ...SHORT_NAMES,
  // `architecture` keeps its one name: its values are paths, resolved and checked under that name (scenarios/loader.ts)
  ...Object.fromEntries(Object.values(SHORT_NAMES).filter(([, field]) => field !== 'architecture').map(([block, field]) => [`${block}.${field}`, [block, field]])),
  ...Object.fromEntries(Object.keys(AugmentationSchema.shape).map((field) => [`augmentation.${field}`, ['augmentation', field]])),
};
export type SweepParameter = string;

/** The names a sweep takes, for the message that refuses another: short names, then the dotted forms in short. */
const SWEEPABLE_NAMES = `expected one of ${Object.keys(SHORT_NAMES).join(', ')}, their dotted paths (training.learning_rate, model.input_size, …) or augmentation.<field> (${Object.keys(AugmentationSchema.shape).join(', ')})`;

/** Combinations the random order can address exactly (it works on doubles; see sweep-trials.ts). */
export const MAX_GRID_SIZE = 2 ** 52;

const isSweepable = (name: string): name is SweepParameter => Object.hasOwn(SWEEPABLE, name);

/** The field schema a sweep parameter overrides, through its default or optional. */
function fieldOf(name: SweepParameter): z.ZodType {
  const [block, key] = SWEEPABLE[name];
  const field = FIELD_SCHEMAS[block].shape[key as never] as z.ZodType;
  return field instanceof z.ZodDefault || field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : field;
}

/** Whether a parameter takes integers (`batch_size`, `epochs`, …), so a range of it is an integer range. */
export function isIntegerParameter(name: SweepParameter): boolean {
  const field = fieldOf(name);
  return field instanceof z.ZodNumber && field.isInt === true;
}

/**
 * Sweep values are checked against the field they override, so a bad value fails before any
 * trial; a repeated value would only run the same trial twice, and a batch size below
 * `training.min_batch_size` would fail the trial's own check inside the sweep. `at` is where the
 * parameters sit in the checked object (an optimizer rule's `action.parameters` too).
 */
export function checkSweepParameters(parameters: Record<string, unknown[] | SearchRange>, minBatchSize: number | undefined, ctx: z.RefinementCtx, at: PropertyKey[] = ['sweep', 'parameters']): void {
  const lists: unknown[][] = [];
  /** `block.field` → the name that sweeps it: `learning_rate` and `training.learning_rate` are one field. */
  const swept = new Map<string, string>();
  for (const [name, space] of Object.entries(parameters)) {
    if (!isSweepable(name)) {
      ctx.addIssue({ code: 'custom', path: [...at, name], message: `${NOT_SWEEPABLE}; ${SWEEPABLE_NAMES}` });
      continue;
    }
    const target = SWEEPABLE[name].join('.');
    const other = swept.get(target);
    if (other !== undefined) ctx.addIssue({ code: 'custom', path: [...at, name], message: `sweeps the same field as ${other} (${target}): name it once` });
    swept.set(target, name);
    const field = fieldOf(name);
    /** `end`: a range's end, named in the message (`high end 2: expected at most 1`). */
    const checkValue = (value: unknown, path: PropertyKey[], end?: string): boolean => {
      const say = (message: string) => ctx.addIssue({ code: 'custom', path, message: end === undefined ? message : `${end} ${String(value)}: ${message}` });
      const parsed = field.safeParse(value);
      if (!parsed.success) say(parsed.error.issues[0].message);
      else if (SWEEPABLE[name].join('.') === 'training.batch_size' && minBatchSize !== undefined && (value as number) < minBatchSize) {
        say(`expected at least training.min_batch_size (${minBatchSize}), got ${String(value)}`);
      } else return true;
      return false;
    };
    if (!Array.isArray(space)) {
      checkRange(name, space, [...at, name], checkValue, ctx);
      continue;
    }
    lists.push(space);
    space.forEach((value, i) => {
      const first = space.indexOf(value);
      if (first < i) ctx.addIssue({ code: 'custom', path: [...at, name, i], message: `duplicate of index ${first} (${JSON.stringify(value)}): each value is one trial` });
      else checkValue(value, [...at, name, i]);
    });
  }
  const size = lists.reduce((n, values) => n * values.length, 1);
  if (size > MAX_GRID_SIZE) ctx.addIssue({ code: 'custom', path: at, message: `${size} combinations; at most 2^52 can be swept` });
}

/**
 * A range's ends are checked as values of the field; an integer field needs whole ends and step,
 * a step that lands on high, and a second value that is valid too (`input_size` steps by 32).
 */
function checkRange(name: SweepParameter, range: SearchRange, path: PropertyKey[], checkValue: (value: unknown, path: PropertyKey[], end?: string) => boolean, ctx: z.RefinementCtx): void {
  if (!(fieldOf(name) instanceof z.ZodNumber)) {
    ctx.addIssue({ code: 'custom', path, message: `expected a list of values: ${name} is not numeric, so it cannot be a range` });
    return;
  }
  if (range.int && !isIntegerParameter(name)) {
    ctx.addIssue({ code: 'custom', path: [...path, 'int'], message: `${name} is not an integer field: write its range as { min, max }` });
    return;
  }
  // the ends' paths differ by spelling (min/low, int.0): the message names the end instead
  const ends = checkValue(range.low, path, 'low end') && checkValue(range.high, path, 'high end');
  if (!ends) return;
  if (!isIntegerParameter(name)) {
    if (range.step !== undefined && !stepDividesRange({ ...range, step: range.step })) {
      ctx.addIssue({ code: 'custom', path: [...path, 'step'], message: `expected a step that divides the range (${range.high - range.low}), got ${range.step}` });
    }
    return;
  }
  const step = range.step ?? 1;
  if (!Number.isInteger(step)) ctx.addIssue({ code: 'custom', path: [...path, 'step'], message: `expected an integer step for ${name}, got ${step}` });
  else if ((range.high - range.low) % step !== 0) ctx.addIssue({ code: 'custom', path: [...path, 'step'], message: `expected a step that divides the range (${range.high - range.low}), got ${step}` });
  else if (range.low + step <= range.high && !fieldOf(name).safeParse(range.low + step).success) {
    ctx.addIssue({ code: 'custom', path: [...path, 'step'], message: `expected a step that keeps every value valid: low end + step = ${range.low + step} is not a valid ${name}` });
  }
}

/** Distinct combinations of a sweep's space: lists' lengths and ranges' points multiplied; Infinity with a continuous range. */
export function spaceCombinations(parameters: Record<string, ParameterSpace>): number {
  return Object.entries(parameters).reduce((n, [name, space]) => n * spacePoints(space, !Array.isArray(space) && isSweepable(name) && isIntegerParameter(name)), 1);
}

/** Parameters given as ranges: a `random` sweep samples them (with the sweep's seed) instead of shuffling a grid. */
export function rangeParameters(parameters: Record<string, ParameterSpace>): string[] {
  return Object.entries(parameters)
    .filter(([, space]) => !Array.isArray(space))
    .map(([name]) => name);
}

/**
 * Strategy rules of a sweep. A grid runs whole: a range needs a step to become values, and a
 * `max_runs` below the grid's size is refused (a seeded random subset is `strategy: random`).
 * A random sweep samples its ranges, so it needs `max_runs`; a `tpe` sweep runs at most
 * MAX_TPE_RUNS trials (it keeps each finished one for the sampler).
 */
function checkSweepStrategy(sweep: Sweep, ctx: z.RefinementCtx): void {
  const ranges = rangeParameters(sweep.parameters);
  if (sweep.strategy === SweepStrategy.grid) {
    for (const name of ranges) {
      const range = sweep.parameters[name] as SearchRange;
      if (range.step === undefined) {
        ctx.addIssue({ code: 'custom', path: ['sweep', 'parameters', name, 'step'], message: `required for a range in a grid, which runs its values low end, low end + step, …, high end${range.int || isIntegerParameter(name) ? ' (step: 1 for every integer)' : ''}; or sample the range with strategy: random (with max_runs) or tpe` });
      }
    }
    const size = spaceCombinations(sweep.parameters);
    if (ranges.length > 0 && Number.isFinite(size) && size > MAX_GRID_SIZE) ctx.addIssue({ code: 'custom', path: ['sweep', 'parameters'], message: `${size} combinations; at most 2^52 can be swept` });
    else if (sweep.max_runs !== undefined && sweep.max_runs >= 1 && Number.isFinite(size) && sweep.max_runs < size) {
      ctx.addIssue({
        code: 'custom',
        path: ['sweep', 'max_runs'],
        message: `${sweep.max_runs} is fewer than the grid's ${size} combinations: a grid runs every combination (leave max_runs out), or set strategy: random for a seeded random subset of ${sweep.max_runs}`,
      });
    }
  }
  if (sweep.strategy === SweepStrategy.random && ranges.length > 0 && sweep.max_runs === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sweep', 'max_runs'], message: `required for strategy: random with a range (sweep.parameters.${ranges[0]} is sampled): the number of trials` });
  }
  if (sweep.strategy === SweepStrategy.tpe && sweep.max_runs !== undefined && sweep.max_runs > MAX_TPE_RUNS) {
    ctx.addIssue({ code: 'custom', path: ['sweep', 'max_runs'], message: `expected at most ${MAX_TPE_RUNS} for strategy: tpe (the sweep keeps every finished trial for the sampler), got ${sweep.max_runs}` });
  }
}

/** `max_runs` left out means every combination, which a model-based search does not enumerate: its whole budget must be written. */
function requireTpeBudget(input: unknown, ctx: z.RefinementCtx): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const { strategy, max_runs: maxRuns } = input as Record<string, unknown>;
  if ((strategy === SweepStrategy.tpe || strategy === 'bayesian') && maxRuns === undefined) {
    ctx.addIssue({ code: 'custom', path: ['max_runs'], message: `required for strategy: ${strategy}: the number of trials the search runs (at most ${MAX_TPE_RUNS})` });
  }
  return input;
}

/** Which runs a comparison reads its metric from. */
function comparisonSource(type: ExperimentType, c: Comparison): MetricSource {
  if (c.run_ids) return MetricSource.anyRun;
  return c.architectures && type === ExperimentType.train ? MetricSource.train : MetricSource.benchmark;
}

/** Metric names must be keys the runs each field reads actually log (scenarios/metric-keys.ts). */
function checkMetricNames(s: { type: ExperimentType; task: { classes: string[] }; benchmark?: { batch_sizes: number[] }; sweep?: Sweep; promotion?: Promotion; comparison?: Comparison }, ctx: z.RefinementCtx): void {
  const context = { classes: s.task.classes, batchSizes: s.benchmark?.batch_sizes ?? [] };
  const check = (block: string, metric: string, source: MetricSource) => {
    const message = unknownMetricMessage(metric, { ...context, source });
    if (message !== undefined) ctx.addIssue({ code: 'custom', path: [block, 'metric'], message });
  };
  if (s.sweep) check('sweep', s.sweep.metric, MetricSource.train);
  // The gate reads the trained run's value (and the variants' orig./quant. copies of it).
  if (s.promotion) check('promotion', s.promotion.metric, MetricSource.train);
  if (s.comparison) check('comparison', s.comparison.metric, comparisonSource(s.type, s.comparison));
}

/** Which experiment types each kind of comparison can run. */
function checkComparisonType(type: ExperimentType, c: z.infer<typeof ComparisonSchema>, ctx: z.RefinementCtx): void {
  const need = (key: string, types: ExperimentType[]) => {
    if (!types.includes(type)) ctx.addIssue({ code: 'custom', path: ['comparison', key], message: `a comparison of ${key} needs type: ${types.join(' or ')}, got type: ${type}` });
  };
  if (c.architectures) need('architectures', ['train', 'infer']);
  if (c.datasets) need('datasets', ['infer']);
  if (c.variants) need('variants', ['infer', 'quant']);
}

/** Each experiment type needs its own block; each design its own. */
const REQUIRED_BLOCK = {
  type: { train: 'training', infer: 'benchmark', quant: 'quantization' },
  design: { single: undefined, sweep: 'sweep', comparison: 'comparison', pipeline: 'quantization' },
} as const;

export const ScenarioSchema = z
  .strictObject({
    name: slug('scenario name'),
    version: slug('version').refine((v) => !v.split('-').some((part) => NAME_WORDS.includes(part)), {
      error: (iss) => `expected a version without ${NAME_WORDS.join(', ')} as a '-'-separated part, got ${JSON.stringify(iss.input)}: the run name {task}-{arch}-{type}-{version} could be read two ways (use '_')`,
    }),
    description: z.string().optional(),
    type: z.enum(ExperimentType),
    design: z.enum(Design).default('single'),
    site: SiteSchema,
    task: TaskSchema,
    model: ModelSchema,
    dataset: DatasetSchema,
    environment: EnvironmentSchema.prefault({}),
    training: TrainingSchema.optional(),
    augmentation: AugmentationSchema.optional(),
    benchmark: BenchmarkSchema.optional(),
    quantization: QuantizationSchema.optional(),
    sweep: z.preprocess<unknown, typeof SweepSchema, z.input<typeof SweepSchema>>(requireTpeBudget, SweepSchema).optional(),
    comparison: ComparisonSchema.optional(),
    promotion: PromotionSchema.optional(),
    /** Where its GPU jobs queue on a busy pool: `urgent` before `normal` (the default) before `background`; `gflow … --priority` overrides it. */
    priority: z.enum(PriorityLevel).optional(),
    /** False: nothing is registered (the seeds' `--no-register`): a one-off training or export stays a run, the registry untouched. */
    register: z.boolean().default(true),
    /** More MLflow tags on every run of the scenario (the optimizer traces its actions' runs with them); the product's own tags win. */
    tags: z
      .record(z.string(), z.string().max(5000))
      .superRefine((tags, ctx) => {
        // checked here, not by the record's key schema: zod reports a bad key only as "Invalid key in record"
        for (const key of Object.keys(tags)) {
          if (!/^[A-Za-z0-9_./-]{1,250}$/.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `expected an MLflow tag key of letters, digits, '_', '.', '/', '-', got ${JSON.stringify(key)}` });
        }
      })
      .optional(),
  })
  .superRefine((s, ctx) => {
    if (s.sweep) {
      checkSweepParameters(s.sweep.parameters, s.training?.min_batch_size, ctx);
      checkSweepStrategy(s.sweep, ctx);
    }
    checkMetricNames(s, ctx);
    if (s.design === 'comparison' && s.comparison) checkComparisonType(s.type, s.comparison, ctx);
    if (s.augmentation && s.type !== 'train') ctx.addIssue({ code: 'custom', path: ['augmentation'], message: `augmentation applies to training: it needs type: train, got type: ${s.type}` });
    if (!s.register && s.design === 'pipeline') {
      ctx.addIssue({ code: 'custom', path: ['register'], message: 'a pipeline promotes what it registers: it needs register: true' });
    } else if (!s.register && s.type === 'quant') {
      // the quantize stage registers every variant (its lineage lives in the registry); refused rather than ignored
      ctx.addIssue({ code: 'custom', path: ['register'], message: 'a quant run registers each variant: register: false goes with type: train' });
    }
    if (s.design === 'sweep' && s.type !== 'train') {
      ctx.addIssue({ code: 'custom', path: ['design'], message: `a sweep varies training parameters: it needs type: train, got type: ${s.type}` });
    }
    const armsNameModels = s.design === 'comparison' && (s.comparison?.models !== undefined || s.comparison?.architectures !== undefined);
    if (s.type === 'infer' && s.model.weights === null && !armsNameModels) {
      ctx.addIssue({ code: 'custom', path: ['model', 'weights'], message: 'required for type: infer: the model to benchmark (a .pt path, runs:/<run id>/<path> or models:/<name>@<alias>)' });
    }
    if (s.type === 'quant' && s.design !== 'pipeline' && s.model.weights === null && s.quantization?.source_run_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['quantization', 'source_run_id'], message: 'required for type: quant unless model.weights names the model to export' });
    }
    for (const block of [REQUIRED_BLOCK.type[s.type], REQUIRED_BLOCK.design[s.design]]) {
      if (block !== undefined && s[block] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [block],
          message: `required for type: ${s.type}, design: ${s.design}`,
        });
      }
    }
  });

/** A validated scenario, defaults applied. */
export type Scenario = z.infer<typeof ScenarioSchema>;
export type QuantVariant = z.infer<typeof QuantVariantSchema>;
export type Sweep = z.infer<typeof SweepSchema>;
export type Comparison = z.infer<typeof ComparisonSchema>;
export type Promotion = z.infer<typeof PromotionSchema>;
/** What a scenario file may contain (defaults not yet applied). */
export type ScenarioInput = z.input<typeof ScenarioSchema>;
