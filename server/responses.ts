import { z } from 'zod';
import { AlertRule, FleetMetricsSchema, Severity, SiteSchema, type Alert, type ComparisonRow, type ModelSummary, type SummaryRow, type TrendDay, type TrendPoint } from '../fleet';
import { AliasSchema } from '../fleet/records';

/**
 * The HTTP API's answers as zod schemas: they serialize each response and document it in the
 * OpenAPI file. Each is tied to the fleet query's own type (`z.ZodType<SummaryRow>`), so a field
 * added to a query without its schema fails to compile instead of vanishing from the API.
 */

const ModelSummarySchema: z.ZodType<ModelSummary> = z.object({
  name: z.string(),
  version: z.string(),
  aliases: z.array(AliasSchema),
  variant: z.string().nullable(),
  runId: z.string().nullable(),
  measuredBy: z.string().nullable(),
  metrics: FleetMetricsSchema,
});

export const SummaryRowSchema: z.ZodType<SummaryRow> = z.object({
  siteKey: z.string(),
  site: SiteSchema,
  task: z.string(),
  champion: ModelSummarySchema.nullable(),
  variantChampions: z.array(ModelSummarySchema),
  bestCandidate: ModelSummarySchema.nullable(),
  runsInWindow: z.number().int(),
  lastRunAt: z.number().nullable().describe('epoch milliseconds'),
});

export const TrendPointSchema: z.ZodType<TrendPoint> = z.object({
  time: z.number().describe('the run’s start, epoch milliseconds'),
  runId: z.string(),
  runName: z.string(),
  siteKey: z.string(),
  task: z.string(),
  value: z.number(),
  champion: z.boolean(),
});

export const TrendDaySchema: z.ZodType<TrendDay> = z.object({
  day: z.string().describe('YYYY-MM-DD, UTC'),
  time: z.number(),
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  count: z.number().int(),
  champion: z.boolean(),
});

/** `by=run`: one point per run; `by=day`: one per UTC day (the CLI's `--json` answers the same). */
export const TrendResponseSchema = z.union([
  z.object({ metric: z.string(), by: z.literal('run'), points: z.array(TrendPointSchema) }),
  z.object({ metric: z.string(), by: z.literal('day'), points: z.array(TrendDaySchema) }),
]);

export const ComparisonRowSchema: z.ZodType<ComparisonRow> = z.object({
  key: z.string(),
  model: z.string().nullable(),
  version: z.string().nullable(),
  aliases: z.array(AliasSchema),
  runs: z.number().int(),
  metrics: FleetMetricsSchema,
  bestRunId: z.string().nullable(),
  champion: z.boolean(),
});

export const AlertSchema: z.ZodType<Alert> = z.object({
  rule: z.enum(AlertRule),
  severity: z.enum(Severity),
  siteKey: z.string(),
  site: SiteSchema,
  task: z.string(),
  model: z.string().nullable(),
  version: z.string().nullable(),
  value: z.number().nullable(),
  threshold: z.number(),
  message: z.string(),
});

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']).describe('degraded: MLflow cannot be reached or no snapshot could be read'),
  mlflow: z.object({ url: z.string(), reachable: z.boolean() }),
  snapshot: z
    .object({ readAt: z.number(), ageSeconds: z.number(), runs: z.number().int(), models: z.number().int() })
    .nullable()
    .describe('the snapshot the answers come from; null before the first successful read'),
  lastError: z.string().nullable(),
});
export type Health = z.infer<typeof HealthSchema>;

export const ConfigSchema = z.object({
  mlflowUrl: z.string().describe('MLflow UI base URL, for run links: {mlflowUrl}/#/experiments/{experimentId}/runs/{runId}'),
  temporalUiUrl: z.string().describe('Temporal Web UI base URL'),
  namespace: z.string().describe('Temporal namespace, for workflow links: {temporalUiUrl}/namespaces/{namespace}/workflows?query=GfSite=…'),
});
export type FleetLinks = z.infer<typeof ConfigSchema>;

export const ErrorSchema = z.object({ error: z.string(), field: z.string().optional().describe('the query parameter at fault') });

