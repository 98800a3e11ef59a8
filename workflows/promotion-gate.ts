import type { Scenario } from '../scenarios/schema';

type Promotion = NonNullable<Scenario['promotion']>;

export interface GateDecision {
  model: string;
  version: string;
  promote: boolean;
  reason: string;
}

/**
 * The trained model passes when it beats the current champion's metric by `min_improvement`
 * (or there is no champion yet). A variant passes when its source passes and it loses at most
 * `max_accuracy_drop` of that metric against the original on the same data.
 */
export function gateTrained(promotion: Promotion, model: { name: string; version: string }, value: number | undefined, champion: number | undefined): GateDecision {
  const base = { model: model.name, version: model.version };
  if (value === undefined) return { ...base, promote: false, reason: `no ${promotion.metric} recorded` };
  if (champion === undefined) return { ...base, promote: true, reason: `${promotion.metric}=${fmt(value)}, no champion yet` };
  const gain = value - champion;
  const promote = gain >= promotion.min_improvement;
  return { ...base, promote, reason: `${promotion.metric}=${fmt(value)} vs champion ${fmt(champion)} (${gain >= 0 ? '+' : ''}${fmt(gain)}, needs ≥ ${fmt(promotion.min_improvement)})` };
}

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
  const drop = orig - quant;
  const promote = drop <= promotion.max_accuracy_drop;
  return { ...base, promote, reason: `${promotion.metric} drop ${fmt(drop)} (allowed ≤ ${fmt(promotion.max_accuracy_drop)})` };
}

const fmt = (n: number) => n.toFixed(4);
