import { z } from 'zod';

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

const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
/** Names that end up in MLflow experiment/model names and workflow ids: no dots, slashes or colons. */
const slug = (what: string) =>
  z.string().regex(SLUG, { error: (iss) => `expected a ${what} of lowercase letters, digits, '-' or '_', got ${JSON.stringify(iss.input)}` });

/** Ultralytics model configs that build from the installed package without a download. */
const ARCHITECTURE = /^(yolov3u?|yolov5[nsmlx]?u?|yolov[689][nsmlxtce]?|yolov10[nsmblx]|yolo1[12][nsmlx]|rtdetr-[lx]|[\w./-]+)(-[\w]+)?\.(yaml|pt)$/;

const classNames = z
  .array(z.string().regex(/^[\w.-]+$/, { error: (iss) => `expected a class name of letters, digits, '_', '.', '-', got ${JSON.stringify(iss.input)}` }))
  .min(1, { error: 'expected at least one class' })
  .refine((names) => new Set(names).size === names.length, { error: 'class names must be unique' });

export const SiteSchema = z.strictObject({
  customer: slug('customer'),
  region: slug('region'),
  plant: slug('plant'),
  zone: slug('zone'),
});

export const TaskSchema = z.strictObject({
  type: z.enum(TaskType),
  classes: classNames,
});

export const ModelSchema = z.strictObject({
  architecture: z.string().regex(ARCHITECTURE, {
    error: (iss) => `expected an ultralytics model config such as yolov8n.yaml or a local .pt file, got ${JSON.stringify(iss.input)}`,
  }),
  input_size: z
    .int({ error: (iss) => `expected an integer, got ${JSON.stringify(iss.input)}` })
    .min(32)
    .max(4096)
    .multipleOf(32, { error: (iss) => `expected a multiple of 32, got ${String(iss.input)}` }),
  weights: z.string().min(1).nullable().default(null),
});

export const DatasetSchema = z.strictObject({
  path: z.string().regex(/\.ya?ml$/, { error: (iss) => `expected the path of a YOLO data .yaml file, got ${JSON.stringify(iss.input)}` }),
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

export const TrainingSchema = z.strictObject({
  epochs: z.int().min(1).max(10000),
  batch_size: z.int().min(1).max(1024),
  learning_rate: z.number().positive().max(1),
  optimizer: z.enum(['SGD', 'Adam', 'AdamW', 'NAdam', 'RAdam', 'RMSProp']).default('SGD'),
  patience: z.int().min(0).default(100),
  min_batch_size: z.int().min(1).default(1),
  plots: z.boolean().default(true),
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

/** The median-stopping rule: a trial below the median of completed trials at the same epoch stops. */
export const EarlyStoppingSchema = z.strictObject({
  rule: z.literal('median').default('median'),
  /** Completed trials needed before any trial is stopped. */
  min_completed: z.int().min(1).default(3),
  /** Epochs every trial runs before the rule applies. */
  grace_epochs: z.int().min(1).default(1),
});

export const SweepSchema = z.strictObject({
  parameters: z.record(z.string().regex(/^[a-z_]+$/), z.array(sweepValue).min(1)),
  strategy: z.enum(['grid', 'random']).default('grid'),
  max_runs: z.int().min(1).default(50),
  parallel: z.int().min(1).default(1),
  metric: z.string().default('det.mAP50_95'),
  goal: z.enum(['maximize', 'minimize']).default('maximize'),
  seed: z.int().min(0).default(0),
  fail_fast: z.boolean().default(false),
  early_stopping: EarlyStoppingSchema.optional(),
});

export const ComparisonSchema = z
  .strictObject({
    architectures: z.array(z.string().regex(ARCHITECTURE)).min(2).optional(),
    run_ids: z.array(z.string().regex(/^[0-9a-f]{32}$/, { error: (iss) => `expected a 32-hex MLflow run id, got ${JSON.stringify(iss.input)}` })).min(2).optional(),
    variants: z.array(QuantVariantSchema).min(1).optional(),
    datasets: z.array(DatasetSchema).min(1).optional(),
    /** With `datasets`: every model × every dataset (the generalisation matrix); else `model.weights` alone. */
    models: z.array(z.string().min(1)).min(1).optional(),
    metric: z.string().default('det.mAP50'),
    goal: z.enum(['maximize', 'minimize']).default('maximize'),
    parallel: z.int().min(1).default(2),
  })
  .refine((c) => [c.architectures, c.run_ids, c.variants, c.datasets].filter((v) => v !== undefined).length === 1, {
    error: 'expected exactly one of architectures, run_ids, variants, datasets',
  })
  .refine((c) => c.models === undefined || c.datasets !== undefined, { path: ['models'], error: 'models go with datasets (the model × dataset matrix)' });

export const PromotionSchema = z.strictObject({
  metric: z.string().default('det.mAP50_95'),
  min_improvement: z.number().default(0),
  max_accuracy_drop: z.number().min(0).default(0.01),
});

/** Sweep parameter → the scenario block and field it overrides in each trial. */
export const SWEEPABLE = {
  learning_rate: ['training', 'learning_rate'],
  batch_size: ['training', 'batch_size'],
  epochs: ['training', 'epochs'],
  optimizer: ['training', 'optimizer'],
  patience: ['training', 'patience'],
  input_size: ['model', 'input_size'],
  architecture: ['model', 'architecture'],
  seed: ['environment', 'seed'],
} as const;
export type SweepParameter = keyof typeof SWEEPABLE;

const FIELD_SCHEMAS = { training: TrainingSchema, model: ModelSchema, environment: EnvironmentSchema } as const;

/** Sweep values are checked against the field they override, so a bad value fails before any trial. */
function checkSweepParameters(parameters: Record<string, unknown[]>, ctx: z.RefinementCtx): void {
  for (const [name, values] of Object.entries(parameters)) {
    const target = SWEEPABLE[name as SweepParameter] as (typeof SWEEPABLE)[SweepParameter] | undefined;
    if (target === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sweep', 'parameters', name], message: `not a sweepable parameter; expected one of ${Object.keys(SWEEPABLE).join(', ')}` });
      continue;
    }
    const field = FIELD_SCHEMAS[target[0]].shape[target[1] as never] as z.ZodType;
    values.forEach((value, i) => {
      const parsed = field.safeParse(value);
      if (!parsed.success) ctx.addIssue({ code: 'custom', path: ['sweep', 'parameters', name, i], message: parsed.error.issues[0].message });
    });
  }
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
    version: slug('version'),
    description: z.string().optional(),
    type: z.enum(ExperimentType),
    design: z.enum(Design).default('single'),
    site: SiteSchema,
    task: TaskSchema,
    model: ModelSchema,
    dataset: DatasetSchema,
    environment: EnvironmentSchema.prefault({}),
    training: TrainingSchema.optional(),
    benchmark: BenchmarkSchema.optional(),
    quantization: QuantizationSchema.optional(),
    sweep: SweepSchema.optional(),
    comparison: ComparisonSchema.optional(),
    promotion: PromotionSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.sweep) checkSweepParameters(s.sweep.parameters, ctx);
    if (s.design === 'comparison' && s.comparison) checkComparisonType(s.type, s.comparison, ctx);
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
/** What a scenario file may contain (defaults not yet applied). */
export type ScenarioInput = z.input<typeof ScenarioSchema>;
