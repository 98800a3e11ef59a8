import { comparisonMetrics, prefixMetrics } from '../../workflows/comparison-metrics';
import { gateTrained, gateVariant } from '../../workflows/promotion-gate';

const promotion = { metric: 'det.mAP50_95', min_improvement: 0.01, max_accuracy_drop: 0.02 };
const model = { name: 'site.ppe', version: '3' };

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
  });

  it('prefixes keys', () => {
    expect(prefixMetrics('orig', { 'det.mAP50': 1 })).toEqual({ 'orig.det.mAP50': 1 });
  });
});

describe('promotion gate', () => {
  it('promotes the first model of a registry', () => {
    expect(gateTrained(promotion, model, 0.3, undefined)).toMatchObject({ promote: true, reason: 'det.mAP50_95=0.3000, no champion yet' });
  });

  it('needs min_improvement over the champion', () => {
    expect(gateTrained(promotion, model, 0.505, 0.5).promote).toBe(false);
    expect(gateTrained(promotion, model, 0.52, 0.5).promote).toBe(true);
  });

  it('keeps a model without the metric', () => {
    expect(gateTrained(promotion, model, undefined, 0.5)).toMatchObject({ promote: false, reason: 'no det.mAP50_95 recorded' });
  });

  it('promotes a variant only when its source passes and its accuracy drop is allowed', () => {
    expect(gateVariant(promotion, model, true, 0.5, 0.49).promote).toBe(true);
    expect(gateVariant(promotion, model, true, 0.5, 0.45)).toMatchObject({ promote: false, reason: 'det.mAP50_95 drop 0.0500 (allowed ≤ 0.0200)' });
    expect(gateVariant(promotion, model, false, 0.5, 0.5)).toMatchObject({ promote: false, reason: 'its source model was not promoted' });
  });
});
