/**
 * The synthetic objective of model-based search checks (bench/search-bench.ts, the tpe sweep's
 * workflow-logic test): Branin's function, whose minimum 0.397887 is known (at three points of
 * x1 ∈ [-5, 10], x2 ∈ [0, 15]), turned into a score to maximise that is 1 at the optimum.
 */

const BRANIN_MIN = 0.397887;

/** Branin-Hoo with its usual constants. */
export function branin(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI ** 2);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

/** In (0, 1], 1 at Branin's minimum: a metric to maximise, like mAP. "Within 5 % of the optimum" is a score ≥ 0.95. */
export function braninScore(x1: number, x2: number): number {
  return 1 / (1 + Math.max(0, branin(x1, x2) - BRANIN_MIN));
}

export const X1 = { low: -5, high: 10 };
export const X2 = { low: 0, high: 15 };
