import type { ChampionMetric } from '../activities/registry/activities';
import type { Promotion } from '../scenarios/schema';

export interface GateDecision {
  model: string;
  version: string;
  promote: boolean;
  reason: string;
}

/**
 * Relative (and, near zero, absolute) slack of the gate's comparisons: in doubles 0.3 − 0.2 is
 * 0.09999999999999998, which must still meet `min_improvement: 0.1`.
 */
export const GATE_TOLERANCE = 1e-9;

/** a ≥ b up to rounding. */
const atLeast = (a: number, b: number) => a >= b - GATE_TOLERANCE * Math.max(1, Math.abs(a), Math.abs(b));

/** How much better `value` is than `reference` in the promotion's direction (negative: worse). */
const improvement = (promotion: Promotion, value: number, reference: number) => (promotion.goal === 'minimize' ? reference - value : value - reference);

/** Metric names listed in a refusal: enough to see what the champion has, short enough to read. */
const LISTED_METRICS = 8;

/**
 * The trained model passes when it beats the current champion's metric by `min_improvement` in
 * the promotion's `goal` (or there is no champion yet). A champion without that metric cannot
 * be compared, so the model is refused with that reason: a model promoted automatically must
 * never be a worse one.
 */
export function gateTrained(promotion: Promotion, model: { name: string; version: string }, value: number | undefined, champion: ChampionMetric): GateDecision {
  const base = { model: model.name, version: model.version };
  const { metric } = promotion;
  if (value === undefined) return { ...base, promote: false, reason: `no ${metric} recorded` };
  if (champion.kind === 'none') return { ...base, promote: true, reason: `${metric}=${fmt(value)}, no champion yet` };
  if (champion.kind === 'missing-metric') {
    const listed = champion.available.slice(0, LISTED_METRICS).join(', ') + (champion.available.length > LISTED_METRICS ? ', …' : '');
    const has = champion.available.length ? `it has ${listed}` : 'it has no metrics';
    return { ...base, promote: false, reason: `champion v${champion.version} has no ${metric} (${has}), so ${metric}=${fmt(value)} cannot be compared; promote by hand or gate on a metric both have` };
  }
  const gain = improvement(promotion, value, champion.value);
  const promote = atLeast(gain, promotion.min_improvement);
  return {
    ...base,
    promote,
    reason: `${metric}=${fmt(value)} vs champion v${champion.version} ${fmt(champion.value)} (${promotion.goal}: ${gain >= 0 ? '+' : ''}${fmt(gain)}, needs ≥ ${fmt(promotion.min_improvement)})`,
  };
}

/**
 * A variant passes when its source passes and it loses at most `max_accuracy_drop` of the
 * metric against the original on the same data; the loss is measured in the promotion's goal
 * (for a latency, a slower variant loses).
 */
export function gateVariant(
  promotion: Promotion,
  model: { name: string; version: string },
  sourcePasses: boolean,
  orig: number | undefined,
  quant: number | undefined,
): GateDecision {
  const base = { model: model.name, version: model.version };
  if (!sourcePasses) return { ...base, promote: false, reason: 'its source model was not promoted' };
  if (orig === undefined || quant === undefined) return { ...base, promote: false, reason: `no ${promotion.metric} to compare` };
  const drop = -improvement(promotion, quant, orig);
  const promote = atLeast(promotion.max_accuracy_drop, drop);
  return { ...base, promote, reason: `${promotion.metric} drop ${fmt(drop)} (allowed ≤ ${fmt(promotion.max_accuracy_drop)})` };
}

const fmt = (n: number) => n.toFixed(4);
