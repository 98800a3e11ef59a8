import type { KeyValue, Metric } from './mlflow-client';

/** MLflow's per-request limits of `runs/log-batch` (DESIGN §8). */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000 } as const;

export interface LogBatch {
  metrics: Metric[];
  params: KeyValue[];
  tags: KeyValue[];
}

/**
 * Splits one logical batch into requests MLflow accepts: each within the metric, param and tag
 * limits and the total item limit. Order is kept within each kind.
 */
export function splitLogBatch(batch: Partial<LogBatch>, limits: typeof LOG_BATCH_LIMITS = LOG_BATCH_LIMITS): LogBatch[] {
  const queues = { metrics: [...(batch.metrics ?? [])], params: [...(batch.params ?? [])], tags: [...(batch.tags ?? [])] };
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
