import { z } from 'zod';
import { FailureType } from '../../common/failure-types';
import shared from '../../common/executor-protocol.json';

/**
 * The executor protocol's TypeScript side (docs/architecture.md §7): every JSON line an executor
 * writes is checked against these schemas instead of cast, so an executor of another version
 * fails its job naming the event and field, not as an `undefined` deep inside an activity.
 * Objects are loose: an executor may add fields; only the fields named here are relied on.
 */

/** The table shared with executors/gf_protocol.py (common/executor-protocol.json). */
export type ErrorKind = keyof typeof shared.error_kinds;
const ERROR_KINDS = Object.keys(shared.error_kinds) as [ErrorKind, ...ErrorKind[]];

/** Checked when the worker loads: a failure name that is not a FailureType stops it at start, not a job. */
export const SharedProtocol = z
  .object({
    error_kinds: z.record(z.enum(ERROR_KINDS), z.enum(FailureType)),
    oom_patterns: z.array(z.string().min(1)).min(1),
  })
  .parse(shared);

/** Metric values are finite numbers (gf_protocol.finite_metrics drops the rest). */
const MetricsSchema = z.record(z.string(), z.number());

export const ArtifactKind = { weights: 'weights', table: 'table', plot: 'plot', log: 'log', export: 'export' } as const;
export type ArtifactKind = (typeof ArtifactKind)[keyof typeof ArtifactKind];

export const EpochEventSchema = z.looseObject({
  event: z.literal('epoch'),
  /** 1-based. */
  epoch: z.int().positive(),
  epochs: z.int().positive(),
  metrics: MetricsSchema,
});
export type EpochEvent = z.infer<typeof EpochEventSchema>;

export const CheckpointEventSchema = z.looseObject({ event: z.literal('checkpoint'), path: z.string().min(1), epoch: z.int().nonnegative() });
export type CheckpointEvent = z.infer<typeof CheckpointEventSchema>;

export const ArtifactEventSchema = z.looseObject({ event: z.literal('artifact'), path: z.string().min(1), kind: z.enum(ArtifactKind) });
export type ArtifactEvent = z.infer<typeof ArtifactEventSchema>;

export const ErrorEventSchema = z.looseObject({ event: z.literal('error'), kind: z.enum(ERROR_KINDS), message: z.string() });
export type ErrorEvent = z.infer<typeof ErrorEventSchema>;

export const ProgressEventSchema = z.looseObject({ event: z.literal('progress'), stage: z.string(), variant: z.int().nonnegative().optional() });

export const ExportedModelSchema = z.looseObject({ backend: z.string(), precision: z.string(), path: z.string().min(1), size_mb: z.number().nonnegative() });
export type ExportedModel = z.infer<typeof ExportedModelSchema>;

export const ExportEventSchema = z.looseObject({ event: z.literal('export'), ...ExportedModelSchema.shape });

/** Any `result`: its shape depends on the job, so each job checks it with its own `ResultSchemas` entry. */
const AnyResultEventSchema = z.looseObject({ event: z.literal('result') });

/** The events the activities know. */
export const ExecutorEventSchema = z.discriminatedUnion('event', [
  EpochEventSchema,
  CheckpointEventSchema,
  ArtifactEventSchema,
  ErrorEventSchema,
  ProgressEventSchema,
  ExportEventSchema,
  AnyResultEventSchema,
]);
export type ExecutorEvent = z.infer<typeof ExecutorEventSchema>;

/** The `result` of each executor. */
export const ResultSchemas = {
  train: z.looseObject({ event: z.literal('result'), epochs_completed: z.int().nonnegative(), batch_size: z.int().positive(), metrics: MetricsSchema }),
  benchmark: z.looseObject({ event: z.literal('result'), metrics: MetricsSchema }),
  export: z.looseObject({ event: z.literal('result'), exports: z.array(ExportedModelSchema) }),
} as const;

/** An executor line that breaks the protocol; the activity stops the executor and fails for it. */
export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

/** A stdout line that is a JSON object with an `event` name, before it is checked. */
export type ProtocolLine = { event: string } & Record<string, unknown>;

const KNOWN_EVENTS: ReadonlySet<string> = new Set(ExecutorEventSchema.options.map((o) => o.shape.event.value));

/**
 * What a protocol line is: a known event of the right shape, or `undefined` for an event this
 * worker does not know (a newer executor's). Unknown events are left to the caller to log and
 * otherwise ignore, so executors can add events without breaking older workers. A known event
 * of the wrong shape throws `ProtocolViolation` naming the event and field.
 */
export function parseEvent(value: ProtocolLine): ExecutorEvent | undefined {
  if (!KNOWN_EVENTS.has(value.event)) return undefined;
  return checked(ExecutorEventSchema, value);
}

/** The job's `result` event checked against its executor's result schema. */
export function parseResult<R>(schema: z.ZodType<R>, event: ExecutorEvent): R {
  return checked(schema, event);
}

export const isEpoch = (e: ExecutorEvent): e is EpochEvent => e.event === 'epoch';
export const isCheckpoint = (e: ExecutorEvent): e is CheckpointEvent => e.event === 'checkpoint';
export const isArtifact = (e: ExecutorEvent): e is ArtifactEvent => e.event === 'artifact';

function checked<T>(schema: z.ZodType<T>, value: ProtocolLine): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.map(String).join('.') || '(event)';
  throw new ProtocolViolation(`executor event "${value.event}" breaks the protocol: ${field}: ${issue.message}`);
}
