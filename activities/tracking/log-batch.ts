import type { KeyValue, Metric } from './mlflow-client';

/** MLflow's per-request limits of `runs/log-batch` (docs/architecture.md §9). */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;

export interface LogBatch {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/** MLflow refuses a param value longer than this many characters (Python's count: code points). */
export const PARAM_VALUE_LIMIT = 6000;

/**
 * A param value is never cut: one over MLflow's limit (a long `sweep.parameters`) is logged whole,
 * in order, as `{key}.part1` … `{key}.partN`, each within the limit, and `{key}` itself says so:
 * `[6412 characters in 2 parts: {key}.part1 … {key}.part2]`. Parts are cut at code points, so
 * joining them gives the value back; the same value always gives the same parts (params are write-once).
 */
export function splitLongParams(params: KeyValue[], limit = PARAM_VALUE_LIMIT): KeyValue[] {
  return params.flatMap(({ key, value }) => {
    const chars = Array.from(value);
    if (chars.length <= limit) return [{ key, value }];
    const parts = Array.from({ length: Math.ceil(chars.length / limit) }, (_, i) => ({ key: `${key}.part${i + 1}`, value: chars.slice(i * limit, (i + 1) * limit).join('') }));
    return [{ key, value: `[${chars.length} characters in ${parts.length} parts: ${key}.part1 … ${key}.part${parts.length}]` }, ...parts];
  });
}

/**
 * Splits one logical batch into requests MLflow accepts: each within the metric, param and tag
 * limits and the total item limit, long param values in parts (splitLongParams). Order is kept
 * within each kind.
 */
export function splitLogBatch(batch: Partial<LogBatch>, limits: typeof LOG_BATCH_LIMITS = LOG_BATCH_LIMITS): LogBatch[] {
  const queues = { metrics: [...(batch.metrics ?? [])], params: splitLongParams(batch.params ?? []), tags: [...(batch.tags ?? [])] };
  const chunks: LogBatch[] = [];
  while (queues.metrics.length + queues.params.length + queues.tags.length > 0) {
    let room = limits.total;
    const take = <T>(items: T[], limit: number): T[] => {
      const taken = items.splice(0, Math.min(limit, room));
      room -= taken.length;
      return taken;
    };
    const params = take(queues.params, limits.params);
    const tags = take(queues.tags, limits.tags);
    const metrics = take(queues.metrics, limits.metrics);
    chunks.push({ metrics, params, tags });
  }
  return chunks;
}

/** MLflow metric/param/tag keys: at most 250 characters of `[/\w.\- :]`. */
const KEY_PATTERN = /^[/\w.\- :]{1,250}$/;

/** Keys that MLflow would refuse with a 400 (e.g. ultralytics' `metrics/mAP50(B)`), listed for a clear error. */
export function invalidKeys(batch: Partial<LogBatch>): string[] {
  // Stryker disable next-line ArrayDeclaration: equivalent, a stand-in item in an absent kind's [] has no .key, and String(undefined) passes KEY_PATTERN
  const keys = [...(batch.metrics ?? []), ...(batch.params ?? []), ...(batch.tags ?? [])].map((item) => item.key);
  return keys.filter((key) => !KEY_PATTERN.test(key));
}

/** A record of name → value as MLflow metrics at one step. */
export function toMetrics(values: Record<string, number>, step: number, timestamp = Date.now()): Metric[] {
  return Object.entries(values)
    .filter(([, value]) => Number.isFinite(value))
    .map(([key, value]) => ({ key, value, step, timestamp }));
}

/** A record of name → value as MLflow params or tags. */
export function toKeyValues(values: Record<string, string>): KeyValue[] {
  return Object.entries(values).map(([key, value]) => ({ key, value }));
}
