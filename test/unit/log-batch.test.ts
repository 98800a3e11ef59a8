import { invalidKeys, LOG_BATCH_LIMITS, PARAM_VALUE_LIMIT, splitLogBatch, splitLongParams, toKeyValues, toMetrics } from '../../activities/tracking/log-batch';

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

describe('splitLogBatch, one kind at a time and at the limits', () => {
  it('splits a batch of only params or only tags too', () => {
    expect(splitLogBatch({ params: kv('p', 2) })).toEqual([{ metrics: [], params: kv('p', 2), tags: [] }]);
    expect(splitLogBatch({ tags: kv('t', 2) })).toEqual([{ metrics: [], params: [], tags: kv('t', 2) }]);
    expect(splitLogBatch({ tags: kv('t', 101) }).map((c) => c.tags.length)).toEqual([100, 1]);
    expect(splitLogBatch({ params: kv('p', 201) }).map((c) => c.params.length)).toEqual([100, 100, 1]);
  });

  it('fills each request up to the total, params and tags first', () => {
    const limits = { metrics: 5, params: 2, tags: 2, total: 5 } as unknown as typeof LOG_BATCH_LIMITS;
    const chunks = splitLogBatch({ metrics: metrics(6), params: kv('p', 3), tags: kv('t', 3) }, limits);
    expect(chunks.map((c) => [c.params.length, c.tags.length, c.metrics.length])).toEqual([
      [2, 2, 1],
      [1, 1, 3],
      [0, 0, 2],
    ]);
    expect(chunks.flatMap((c) => c.metrics)).toEqual(metrics(6));
  });
});

describe('invalidKeys', () => {
  it('checks metric, param and tag keys alike', () => {
    expect(invalidKeys({ params: [{ key: 'train/box_loss', value: '1' }, { key: 'a(b', value: '1' }], tags: [{ key: 'ok.tag', value: 'x' }, { key: 'x=y', value: '1' }] })).toEqual(['a(b', 'x=y']);
    expect(invalidKeys({ tags: [{ key: 'x(y', value: '1' }] })).toEqual(['x(y']);
    expect(invalidKeys({ metrics: toMetrics({ 'y)x': 1 }, 0) })).toEqual(['y)x']);
  });

  it('accepts letters, digits, _ . - space : and /, from 1 to 250 characters', () => {
    expect(invalidKeys({ params: ['sys.bs8.latency_ms', 'a-b c:d/e', 'x'.repeat(250)].map((key) => ({ key, value: '1' })) })).toEqual([]);
    expect(invalidKeys({ params: ['', 'x'.repeat(251), 'tab\tkey', 'ünï'].map((key) => ({ key, value: '1' })) })).toEqual(['', 'x'.repeat(251), 'tab\tkey', 'ünï']);
    expect(invalidKeys({})).toEqual([]);
  });
});

describe('toMetrics and toKeyValues', () => {
  it('stamps every metric with the step and the time, now by default', () => {
    const before = Date.now();
    const [metric] = toMetrics({ a: 0.5 }, 3);
    expect(metric).toMatchObject({ key: 'a', value: 0.5, step: 3 });
    expect(metric.timestamp).toBeGreaterThanOrEqual(before);
    expect(metric.timestamp).toBeLessThanOrEqual(Date.now());
    expect(toMetrics({ a: -1, b: 0 }, 0, 9)).toEqual([
      { key: 'a', value: -1, step: 0, timestamp: 9 },
      { key: 'b', value: 0, step: 0, timestamp: 9 },
    ]);
  });

  it('turns a record into key/value pairs in order', () => {
    expect(toKeyValues({ b: '2', a: '1' })).toEqual([
      { key: 'b', value: '2' },
      { key: 'a', value: '1' },
    ]);
    expect(toKeyValues({})).toEqual([]);
  });
});
