import { invalidKeys, LOG_BATCH_LIMITS, PARAM_VALUE_LIMIT, splitLogBatch, splitLongParams, toMetrics } from '../../activities/tracking/log-batch';

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

describe('long param values (issue 16)', () => {
  it('logs a sweep.parameters over MLflow’s 6,000 characters whole, in marked parts', () => {
    const value = JSON.stringify({ learning_rate: Array.from({ length: 1500 }, (_, i) => i / 10000) });
    expect(value.length).toBe(10350);
    const params = splitLongParams([{ key: 'sweep.seed', value: '0' }, { key: 'sweep.parameters', value }]);
    expect(params.map((p) => p.key)).toEqual(['sweep.seed', 'sweep.parameters', 'sweep.parameters.part1', 'sweep.parameters.part2']);
    expect(params[1].value).toBe('[10350 characters in 2 parts: sweep.parameters.part1 … sweep.parameters.part2]');
    expect(params[2].value.length).toBe(6000);
    expect(params[2].value + params[3].value).toBe(value);
    for (const p of params) expect(p.value.length).toBeLessThanOrEqual(PARAM_VALUE_LIMIT);
  });

  it('splits at code points, so a part never ends in half a character', () => {
    const value = '😀'.repeat(5);
    const [marker, ...parts] = splitLongParams([{ key: 'k', value }], 2);
    expect(marker.value).toBe('[5 characters in 3 parts: k.part1 … k.part3]');
    expect(parts.map((p) => p.value)).toEqual(['😀😀', '😀😀', '😀']);
  });

  it('leaves a value at the limit alone, and splitLogBatch applies the rule', () => {
    expect(splitLongParams([{ key: 'k', value: 'x'.repeat(6000) }])).toEqual([{ key: 'k', value: 'x'.repeat(6000) }]);
    const [chunk] = splitLogBatch({ params: [{ key: 'k', value: 'x'.repeat(6001) }] });
    expect(chunk.params.map((p) => [p.key, p.value.length])).toEqual([
      ['k', '[6001 characters in 2 parts: k.part1 … k.part2]'.length],
      ['k.part1', 6000],
      ['k.part2', 1],
    ]);
    expect(chunk.params[0].value).toBe('[6001 characters in 2 parts: k.part1 … k.part2]');
  });
});
