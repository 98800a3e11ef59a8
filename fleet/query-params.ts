import { z } from 'zod';
import { editDistance, resolveMetricAlias } from '../scenarios/metric-keys';
import { TaskType } from '../scenarios/schema';
import { CompareBy } from './comparison';
import { ExportFormat } from './export';
import { FLEET_METRIC_KEYS, type FleetMetricKey } from './records';
import type { FleetFilter } from './select';

/**
 * The fleet queries' parameters as zod schemas, shared by `gflow metrics …` (flags) and the HTTP
 * API (query strings), so both refuse the same values with the same words and answer the same
 * numbers. Values arrive as strings either way. Messages never name the field themselves:
 * `parseQuery` puts `--task:` (CLI) or `task:` (HTTP) in front, and the HTTP error names the field.
 */

const oneOf = <T extends string>(values: readonly T[]) =>
  z.enum(values as [T, ...T[]], { error: (issue) => `expected one of ${values.join(', ')}, got ${JSON.stringify(issue.input)}` });

/** `1`, `7`, `30`: a positive whole number of days, kept as the text that was given until it is checked. */
const Days = z
  .string({ error: (issue) => `expected a positive whole number of days, got ${JSON.stringify(issue.input)}` })
  .regex(/^[1-9][0-9]*$/, { error: (issue) => `expected a positive whole number of days, got ${JSON.stringify(issue.input)}` })
  .transform(Number)
  .describe('a positive whole number of days');

const closestMetric = (key: string) => [...FLEET_METRIC_KEYS].sort((a, b) => editDistance(key.toLowerCase(), a.toLowerCase()) - editDistance(key.toLowerCase(), b.toLowerCase()))[0];

/** A fleet metric key; the seeds' short names (`mAP50`) are accepted, anything else is refused with the closest key. */
const Metric = z
  .string({ error: `required: one of ${FLEET_METRIC_KEYS.join(', ')}` })
  .transform((value, ctx): FleetMetricKey => {
    const key = resolveMetricAlias(value);
    if ((FLEET_METRIC_KEYS as readonly string[]).includes(key)) return key as FleetMetricKey;
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a fleet metric; did you mean ${closestMetric(key)}? (one of ${FLEET_METRIC_KEYS.join(', ')})`, input: value });
    return z.NEVER;
  })
  .describe(`a fleet metric: ${FLEET_METRIC_KEYS.join(', ')} (mAP50 for det.mAP50)`);

const filterShape = {
  customer: z.string().min(1).optional().describe('only this customer’s sites'),
  site: z.string().min(1).optional().describe('only this site: {customer}/{region}-{plant}/{zone}'),
  task: oneOf(Object.values(TaskType)).optional().describe('only this task'),
};

/** Marks a query about one site’s task: customer (or site) and task are required. */
const ONE_SITE_TASK = 'the query is about one site’s task';
function oneSiteTask(query: { customer?: string; site?: string; task?: string }, ctx: z.RefinementCtx): void {
  if (query.customer === undefined && query.site === undefined) ctx.addIssue({ code: 'custom', path: ['customer'], message: ONE_SITE_TASK, params: { give: ['customer', 'site'] } });
  else if (query.task === undefined) ctx.addIssue({ code: 'custom', path: ['task'], message: ONE_SITE_TASK, params: { give: ['task'] } });
}

export const FilterQuery = z.strictObject(filterShape);
export const SummaryQuery = z.strictObject({ ...filterShape, days: Days.default(7).describe('the window for counting runs, in days (default 7)') });
export const TrendQuery = z
  .strictObject({
    ...filterShape,
    metric: Metric,
    by: oneOf(['run', 'day'] as const).default('run').describe('one point per run, or per UTC day (mean, min, max)'),
    days: Days.optional().describe('only the last N days'),
  })
  .superRefine(oneSiteTask);
export const ComparisonQuery = z
  .strictObject({ ...filterShape, by: oneOf(Object.values(CompareBy)).default(CompareBy.architecture).describe('what to compare') })
  .superRefine(oneSiteTask);
export const AlertsQuery = FilterQuery;
export const ExportQuery = z.strictObject({ format: oneOf(Object.values(ExportFormat)), output: z.string().min(1) });

export type SummaryQuery = z.output<typeof SummaryQuery>;
export type TrendQuery = z.output<typeof TrendQuery>;
export type ComparisonQuery = z.output<typeof ComparisonQuery>;

/** The filter part of any parsed query. */
export function filterOf(query: FleetFilter): FleetFilter {
  return { customer: query.customer, site: query.site, task: query.task };
}

/** A parameter that cannot be used: `field` is its name, `message` starts with it as the caller writes it. */
export class QueryParamError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'QueryParamError';
  }
}

/** How a caller writes a parameter's name: `task` in a query string, `--task` on the command line. */
export type ParamName = (field: string) => string;
export const asParam: ParamName = (field) => field;
export const asFlag: ParamName = (field) => `--${field}`;

/** The parsed query, or a QueryParamError for its first bad parameter. Keys whose value is undefined count as absent. */
export function parseQuery<S extends z.ZodType>(schema: S, input: Record<string, unknown>, name: ParamName = asParam): z.output<S> {
  const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  throw toQueryParamError(parsed.error, name);
}

/** The first issue as one message naming its field. */
export function toQueryParamError(error: z.ZodError, name: ParamName = asParam): QueryParamError {
  const issue = error.issues[0];
  if (issue.code === 'unrecognized_keys') return new QueryParamError(issue.keys[0], `${name(issue.keys[0])}: not a parameter of this query`);
  const field = String(issue.path[0] ?? '');
  const give = issue.code === 'custom' ? (issue.params?.give as string[] | undefined) : undefined;
  if (give) return new QueryParamError(field, `give ${name(give[0])}${give.length > 1 ? ` (or ${give.slice(1).map(name).join(', ')})` : ''}: ${issue.message}`);
  return new QueryParamError(field, `${name(field)}: ${issue.message}`);
}
