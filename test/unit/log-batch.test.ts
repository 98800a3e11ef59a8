import { invalidKeys, LOG_BATCH_LIMITS, splitLogBatch, toMetrics } from '../../activities/tracking/log-batch';

const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i}`, value: i, step: 0, timestamp: 1 }));
const kv = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: String(i) }));

describe('splitLogBatch', () => {
  it('keeps a small batch in one request', () => {
    expect(splitLogBatch({ metrics: metrics(3), params: kv('p', 2) })).toEqual([{ metrics: metrics(3), params: kv('p', 2), tags: [] }]);
  });

  it('splits at the per-kind and total limits without losing or reordering anything', () => {
    const batch = { metrics: metrics(2500), params: kv('p', 250), tags: kv('t', 130) };
    const chunks = splitLogBatch(batch);
    for (const c of chunks) {
      expect(c.metrics.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.metrics);
      expect(c.params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
      expect(c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.tags);
      expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.total);
    }
    expect(chunks.flatMap((c) => c.metrics)).toEqual(batch.metrics);
    expect(chunks.flatMap((c) => c.params)).toEqual(batch.params);
    expect(chunks.flatMap((c) => c.tags)).toEqual(batch.tags);
    expect(chunks).toHaveLength(3);
  });

  it('returns nothing for an empty batch', () => {
    expect(splitLogBatch({})).toEqual([]);
  });

  it('finds keys MLflow would refuse', () => {
    expect(invalidKeys({ metrics: toMetrics({ 'metrics/mAP50(B)': 1, 'det.mAP50': 1 }, 0) })).toEqual(['metrics/mAP50(B)']);
  });

  it('drops non-finite metric values, which JSON cannot carry', () => {
    expect(toMetrics({ a: 1, b: Number.NaN, c: Infinity }, 2, 5)).toEqual([{ key: 'a', value: 1, step: 2, timestamp: 5 }]);
  });
});
