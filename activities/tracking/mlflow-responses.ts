import { z } from 'zod';

/**
 * The shapes of MLflow's REST answers that the product reads, checked at the boundary instead of
 * cast: a server of another version, or a proxy answering in its place, fails with the endpoint
 * and field named rather than as an `undefined` deep inside a workflow. Objects are loose: MLflow
 * adds fields between versions, and only the fields named here are relied on.
 */

export const RunStatus = { RUNNING: 'RUNNING', FINISHED: 'FINISHED', FAILED: 'FAILED', KILLED: 'KILLED' } as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export const KeyValueSchema = z.looseObject({ key: z.string(), value: z.string() });
export type KeyValue = z.infer<typeof KeyValueSchema>;

/** MLflow sends int64 fields (timestamps, steps) as JSON strings. */
const int64 = z.union([z.number(), z.string().regex(/^-?\d+$/)]).transform(Number);

/** Protobuf JSON writes non-finite doubles as strings. */
const double = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]).transform(Number);

export const MetricSchema = z.looseObject({ key: z.string(), value: double, timestamp: int64, step: int64.default(0) });
export type Metric = z.infer<typeof MetricSchema>;

export const RunInfoSchema = z.looseObject({
  run_id: z.string(),
  run_name: z.string().optional(),
  experiment_id: z.string(),
  status: z.enum(RunStatus),
  artifact_uri: z.string(),
  lifecycle_stage: z.string(),
  /** Epoch milliseconds. */
  start_time: int64.optional(),
  end_time: int64.optional(),
});
export type RunInfo = z.infer<typeof RunInfoSchema>;

export const RunSchema = z.looseObject({
  info: RunInfoSchema,
  data: z.looseObject({ metrics: z.array(MetricSchema).optional(), params: z.array(KeyValueSchema).optional(), tags: z.array(KeyValueSchema).optional() }).default({}),
});
export type Run = z.infer<typeof RunSchema>;

export const ExperimentSchema = z.looseObject({ experiment_id: z.string(), name: z.string(), lifecycle_stage: z.string() });
export type Experiment = z.infer<typeof ExperimentSchema>;

export const ModelVersionSchema = z.looseObject({
  name: z.string(),
  version: z.string(),
  source: z.string(),
  run_id: z.string().optional(),
  status: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  tags: z.array(KeyValueSchema).optional(),
  creation_timestamp: int64.optional(),
});
export type ModelVersion = z.infer<typeof ModelVersionSchema>;

export const RegisteredModelSchema = z.looseObject({
  name: z.string(),
  aliases: z.array(z.looseObject({ alias: z.string(), version: z.string() })).optional(),
  latest_versions: z.array(ModelVersionSchema).optional(),
});
export type RegisteredModel = z.infer<typeof RegisteredModelSchema>;

/** The answer of each endpoint the client calls. */
export const Responses = {
  experiment: z.looseObject({ experiment: ExperimentSchema }),
  experimentCreated: z.looseObject({ experiment_id: z.string() }),
  experiments: z.looseObject({ experiments: z.array(ExperimentSchema).default([]), next_page_token: z.string().optional() }),
  run: z.looseObject({ run: RunSchema }),
  runs: z.looseObject({ runs: z.array(RunSchema).default([]), next_page_token: z.string().optional() }),
  runInfo: z.looseObject({ run_info: RunInfoSchema }),
  metrics: z.looseObject({ metrics: z.array(MetricSchema).default([]) }),
  registeredModel: z.looseObject({ registered_model: RegisteredModelSchema }),
  registeredModels: z.looseObject({ registered_models: z.array(RegisteredModelSchema).default([]), next_page_token: z.string().optional() }),
  modelVersion: z.looseObject({ model_version: ModelVersionSchema }),
  modelVersions: z.looseObject({ model_versions: z.array(ModelVersionSchema).default([]), next_page_token: z.string().optional() }),
  empty: z.unknown(),
} as const;
