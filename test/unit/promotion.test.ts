import { createRegistryActivities } from '../../activities/registry/activities';
import type { MlflowClient } from '../../activities/tracking/mlflow-client';
import { PromotionSchema } from '../../scenarios/schema';
import { comparisonMetrics, prefixMetrics } from '../../workflows/comparison-metrics';
import { gateTrained, gateVariant } from '../../workflows/promotion-gate';

const promotion = { metric: 'det.mAP50_95', goal: 'maximize' as const, min_improvement: 0.01, max_accuracy_drop: 0.02 };
const model = { name: 'site.ppe', version: '3' };
const none = { kind: 'none' as const };
const champion = (value: number, version = '1') => ({ kind: 'value' as const, version, value });

describe('quantization comparison metrics', () => {
  it('computes accuracy drop, speed-up and compression against the original', () => {
    const orig = { 'det.mAP50': 0.8, 'det.mAP50_95': 0.5, 'sys.latency_ms': 10, 'sys.model_size_mb': 12 };
    const quant = { 'det.mAP50': 0.78, 'det.mAP50_95': 0.49, 'sys.latency_ms': 4, 'sys.model_size_mb': 3 };
    const c = comparisonMetrics(orig, quant);
    expect(c['comparison.accuracy_drop_mAP50']).toBeCloseTo(0.02);
    expect(c['comparison.accuracy_drop_mAP50_95']).toBeCloseTo(0.01);
    expect(c['comparison.speedup_ratio']).toBeCloseTo(2.5);
    expect(c['comparison.compression_ratio']).toBeCloseTo(4);
  });

  it('leaves out a ratio it cannot compute instead of writing zero or infinity', () => {
    expect(comparisonMetrics({ 'sys.latency_ms': 10 }, { 'sys.latency_ms': 0 })).toEqual({});
    expect(comparisonMetrics({ 'sys.latency_ms': 0, 'sys.model_size_mb': 0 }, { 'sys.latency_ms': 5, 'sys.model_size_mb': 2 })).toEqual({});
    expect(comparisonMetrics({ 'sys.model_size_mb': 12 }, { 'sys.model_size_mb': 0 })).toEqual({});
  });

  it('computes each figure only from the two values it needs, zero accuracy included', () => {
    expect(comparisonMetrics({ 'det.mAP50': 0.5 }, { 'det.mAP50_95': 0.4 })).toEqual({});
    expect(comparisonMetrics({ 'det.mAP50_95': 0.5 }, { 'det.mAP50': 0.4 })).toEqual({});
    expect(comparisonMetrics({ 'det.mAP50': 0.5, 'sys.latency_ms': 8 }, { 'sys.latency_ms': 2 })).toEqual({ 'comparison.speedup_ratio': 4 });
    expect(comparisonMetrics({ 'sys.model_size_mb': 9 }, { 'det.mAP50': 0.4, 'sys.model_size_mb': 3 })).toEqual({ 'comparison.compression_ratio': 3 });
    expect(comparisonMetrics({ 'det.mAP50': 0.5, 'det.mAP50_95': 0.25 }, { 'det.mAP50': 0, 'det.mAP50_95': 0.5 })).toEqual({ 'comparison.accuracy_drop_mAP50': 0.5, 'comparison.accuracy_drop_mAP50_95': -0.25 });
    expect(comparisonMetrics({ 'det.mAP50': 0 }, { 'det.mAP50': 0.25 })).toEqual({ 'comparison.accuracy_drop_mAP50': -0.25 });
  });

  it('prefixes keys', () => {
    expect(prefixMetrics('orig', { 'det.mAP50': 1, 'sys.fps': 30 })).toEqual({ 'orig.det.mAP50': 1, 'orig.sys.fps': 30 });
    expect(prefixMetrics('quant', {})).toEqual({});
  });
});

describe('promotion gate', () => {
  it('promotes the first model of a registry', () => {
    expect(gateTrained(promotion, model, 0.3, none)).toMatchObject({ promote: true, reason: 'det.mAP50_95=0.3000, no champion yet' });
  });

  it('needs min_improvement over the champion', () => {
    expect(gateTrained(promotion, model, 0.505, champion(0.5)).promote).toBe(false);
    expect(gateTrained(promotion, model, 0.52, champion(0.5))).toMatchObject({
      promote: true,
      reason: 'det.mAP50_95=0.5200 vs champion v1 0.5000 (maximize: +0.0200, needs ≥ 0.0100)',
    });
  });

  it('keeps a model without the metric', () => {
    expect(gateTrained(promotion, model, undefined, champion(0.5))).toMatchObject({ promote: false, reason: 'no det.mAP50_95 recorded' });
  });

  it('refuses when the champion has no value for the metric, naming what it has (issue 16 #1)', () => {
    const lacking = { kind: 'missing-metric' as const, version: '1', available: ['det.mAP50'] };
    expect(gateTrained(promotion, model, 0.05, lacking)).toEqual({
      model: 'site.ppe',
      version: '3',
      promote: false,
      reason: 'champion v1 has no det.mAP50_95 (it has det.mAP50), so det.mAP50_95=0.0500 cannot be compared; promote by hand or gate on a metric both have',
    });
    const many = { kind: 'missing-metric' as const, version: '2', available: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] };
    expect(gateTrained(promotion, model, 0.9, many).reason).toMatch(/^champion v2 has no det\.mAP50_95 \(it has a, b, c, d, e, f, g, h, …\)/);
    const eight = { kind: 'missing-metric' as const, version: '2', available: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'] };
    expect(gateTrained(promotion, model, 0.9, eight).reason).toBe('champion v2 has no det.mAP50_95 (it has a, b, c, d, e, f, g, h), so det.mAP50_95=0.9000 cannot be compared; promote by hand or gate on a metric both have');
    expect(gateTrained(promotion, model, 0.9, { kind: 'missing-metric', version: '4', available: [] })).toMatchObject({ promote: false, reason: expect.stringMatching(/^champion v4 has no det\.mAP50_95 \(it has no metrics\)/) });
  });

  it('meets its bounds despite floating-point rounding, and still refuses just outside them (issue 16 #2)', () => {
    const strict = { ...promotion, min_improvement: 0.1, max_accuracy_drop: 0.01 };
    expect(gateTrained(strict, model, 0.3, champion(0.2))).toMatchObject({ promote: true, reason: 'det.mAP50_95=0.3000 vs champion v1 0.2000 (maximize: +0.1000, needs ≥ 0.1000)' });
    expect(gateTrained(strict, model, 0.2999, champion(0.2)).promote).toBe(false);
    expect(gateVariant(strict, model, true, 0.85, 0.84)).toMatchObject({ promote: true, reason: 'det.mAP50_95 drop 0.0100 (allowed ≤ 0.0100)' });
    expect(gateVariant(strict, model, true, 0.85, 0.8399).promote).toBe(false);
    expect(gateTrained({ ...strict, min_improvement: 0 }, model, 0.5, champion(0.5)).promote).toBe(true);
    expect(gateTrained({ ...strict, min_improvement: 0 }, model, 0.4999999, champion(0.5)).promote).toBe(false);
    // a bound no larger than the tolerance is met by an equal value
    expect(gateTrained({ ...strict, min_improvement: 1e-9 }, model, 0.5, champion(0.5)).promote).toBe(true);
  });

  it('an equal value meets min_improvement 0 and shows as +0; a value without the metric is never promoted', () => {
    const zero = { ...promotion, min_improvement: 0 };
    expect(gateTrained(zero, model, 0.5, champion(0.5))).toEqual({ model: 'site.ppe', version: '3', promote: true, reason: 'det.mAP50_95=0.5000 vs champion v1 0.5000 (maximize: +0.0000, needs ≥ 0.0000)' });
    expect(gateTrained(zero, model, undefined, none)).toEqual({ model: 'site.ppe', version: '3', promote: false, reason: 'no det.mAP50_95 recorded' });
    expect(gateVariant(zero, model, true, undefined, 0.5)).toEqual({ model: 'site.ppe', version: '3', promote: false, reason: 'no det.mAP50_95 to compare' });
    expect(gateVariant(zero, model, false, undefined, undefined)).toEqual({ model: 'site.ppe', version: '3', promote: false, reason: 'its source model was not promoted' });
  });

  it('the tolerance is relative to the compared figures: a 5 ms bound is met 3e-9 short, not 3e-8 short', () => {
    const latency = { metric: 'sys.latency_ms', goal: 'minimize' as const, min_improvement: 5, max_accuracy_drop: 5 };
    expect(gateTrained(latency, model, 100.000000003, champion(105)).promote).toBe(true);
    expect(gateTrained(latency, model, 100.00000003, champion(105)).promote).toBe(false);
    expect(gateVariant(latency, model, true, 100, 105.000000003).promote).toBe(true);
    expect(gateVariant(latency, model, true, 100, 105.00000003).promote).toBe(false);
  });

  it('a minimised metric improves by going down, for the model and its variants', () => {
    const loss = { metric: 'det.box_loss', goal: 'minimize' as const, min_improvement: 0, max_accuracy_drop: 0.5 };
    expect(gateTrained(loss, model, 2.5, champion(0.8))).toMatchObject({ promote: false, reason: 'det.box_loss=2.5000 vs champion v1 0.8000 (minimize: -1.7000, needs ≥ 0.0000)' });
    expect(gateTrained(loss, model, 0.7, champion(0.8)).promote).toBe(true);
    const latency = { metric: 'sys.latency_ms', goal: 'minimize' as const, min_improvement: 0, max_accuracy_drop: 1 };
    expect(gateVariant(latency, model, true, 10, 12)).toMatchObject({ promote: false, reason: 'sys.latency_ms drop 2.0000 (allowed ≤ 1.0000)' });
    expect(gateVariant(latency, model, true, 10, 4)).toMatchObject({ promote: true, reason: 'sys.latency_ms drop -6.0000 (allowed ≤ 1.0000)' });
  });

  it('promotes a variant only when its source passes and its accuracy drop is allowed', () => {
    expect(gateVariant(promotion, model, true, 0.5, 0.49).promote).toBe(true);
    expect(gateVariant(promotion, model, true, 0.5, 0.45)).toMatchObject({ promote: false, reason: 'det.mAP50_95 drop 0.0500 (allowed ≤ 0.0200)' });
    expect(gateVariant(promotion, model, false, 0.5, 0.5)).toMatchObject({ promote: false, reason: 'its source model was not promoted' });
    expect(gateVariant(promotion, model, true, 0.5, undefined)).toMatchObject({ promote: false, reason: 'no det.mAP50_95 to compare' });
  });
});

describe('promotion goal', () => {
  it.each([
    ['det.mAP50_95', 'maximize'],
    ['det.recall', 'maximize'],
    ['mot.mt', 'maximize'],
    ['sys.fps', 'maximize'],
    ['det.box_loss', 'minimize'],
    ['det.val_dfl_loss', 'minimize'],
    ['sys.latency_ms', 'minimize'],
    ['sys.bs8.latency_ms_p95', 'minimize'],
    ['sys.gpu_memory_peak_mb', 'minimize'],
    ['sys.model_size_mb', 'minimize'],
    ['sys.gpu_power_w', 'minimize'],
    ['sys.model_params_m', 'minimize'],
    ['sys.model_gflops', 'minimize'],
    ['mot.id_switches', 'minimize'],
    ['mot.frag', 'minimize'],
    ['mot.ml', 'minimize'],
  ])('%s defaults to %s', (metric, goal) => {
    expect(PromotionSchema.parse({ metric }).goal).toBe(goal);
  });

  it('an explicit goal wins; the defaults are those of DESIGN §3', () => {
    expect(PromotionSchema.parse({ metric: 'det.box_loss', goal: 'maximize' }).goal).toBe('maximize');
    expect(PromotionSchema.parse({})).toEqual({ metric: 'det.mAP50_95', goal: 'maximize', min_improvement: 0, max_accuracy_drop: 0.01 });
  });
});

describe('champion lookup', () => {
  type Fake = { model?: object; champion?: { version: string; run_id?: string }; metrics?: { key: string; value: number }[] };
  const lookup = (fake: Fake, metric = 'det.mAP50_95') => {
    const mlflow = {
      getRegisteredModel: () => Promise.resolve(fake.model),
      getModelVersionByAlias: () => Promise.resolve(fake.champion),
      getRun: () => Promise.resolve({ data: { metrics: fake.metrics } }),
    } as unknown as MlflowClient;
    return createRegistryActivities({ mlflow }).championMetric({ model: 'site.ppe', metric });
  };

  it('tells "no champion" from "a champion without this metric" (issue 16 #1)', async () => {
    await expect(lookup({})).resolves.toEqual({ kind: 'none' });
    await expect(lookup({ model: {} })).resolves.toEqual({ kind: 'none' });
    await expect(lookup({ model: {}, champion: { version: '1', run_id: 'r' }, metrics: [{ key: 'det.mAP50', value: 0.91 }, { key: 'det.f1', value: 0.7 }] })).resolves.toEqual({
      kind: 'missing-metric',
      version: '1',
      available: ['det.f1', 'det.mAP50'],
    });
    await expect(lookup({ model: {}, champion: { version: '2' } })).resolves.toEqual({ kind: 'missing-metric', version: '2', available: [] });
    await expect(lookup({ model: {}, champion: { version: '3', run_id: 'r' }, metrics: [{ key: 'det.mAP50_95', value: Number.NaN }] })).resolves.toMatchObject({ kind: 'missing-metric' });
    await expect(lookup({ model: {}, champion: { version: '3', run_id: 'r' }, metrics: [{ key: 'det.mAP50_95', value: 0.61 }] })).resolves.toEqual({ kind: 'value', version: '3', value: 0.61 });
  });
});
