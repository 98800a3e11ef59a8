import { MAX_PROGRESS_REPORTS, type EarlyStopThresholds } from '../common/contract';
import type { EarlyStopping, Sweep } from '../scenarios/schema';

/**
 * Early stopping of sweep trials (beyond the seeds). `median`: a trial whose metric at epoch k
 * is worse than the median of completed trials at epoch k stops. `asha`: Optuna's successive
 * halving, a trial at a rung epoch stops unless among the best 1/η there. Pure: the sweep keeps
 * the per-epoch values of settled trials and sends the bars to its running trials, which apply them.
 */

/** A trial's metric per reported epoch (key: the 1-based epoch); see `reportsProgress`. */
export type EpochMetric = Partial<Record<number, number>>;

/** Recent completed trials' metric per reported epoch (key: the 1-based epoch): the state behind the medians. */
export type EpochValues = Partial<Record<number, number[]>>;

/** Values per epoch kept for the medians: enough for a stable median, bounded for any sweep size. */
export const MEDIAN_WINDOW = 50;

/**
 * Epochs kept. A trial reports at most MAX_PROGRESS_REPORTS epochs whatever its epoch count;
 * a sweep over `epochs` may report others, and beyond this cap the epochs with the fewest values
 * are dropped (the rule does not compare there). So the state a sweep carries over
 * continue-as-new stays under MAX_EPOCHS_KEPT × MEDIAN_WINDOW numbers (≈100 KB of JSON).
 */
export const MAX_EPOCHS_KEPT = 2 * MAX_PROGRESS_REPORTS;

/** Adds a completed trial's per-epoch values, keeping the most recent MEDIAN_WINDOW per epoch. */
export function recordCompleted(perEpoch: EpochValues, history: EpochMetric): EpochValues {
  const next: EpochValues = { ...perEpoch };
  for (const [key, value] of Object.entries(history)) {
    if (value === undefined || !Number.isFinite(value)) continue;
    const epoch = Number(key);
    next[epoch] = [...(next[epoch] ?? []), value].slice(-MEDIAN_WINDOW);
  }
  const epochs = Object.keys(next).map(Number);
  const count = (epoch: number) => next[epoch]!.length;
  const dropped = epochs.sort((a, b) => count(b) - count(a) || a - b).slice(MAX_EPOCHS_KEPT);
  for (const epoch of dropped) delete next[epoch];
  return next;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The bars a running trial compares itself with (`medians` in the contract, whatever the rule);
 * an epoch is absent while too few trials reached it.
 */
export function thresholds(sweep: Pick<Sweep, 'metric' | 'goal' | 'early_stopping'>, perEpoch: EpochValues): EarlyStopThresholds | undefined {
  const rule = sweep.early_stopping;
  if (!rule) return undefined;
  if (rule.rule === 'asha') return ashaThresholds(sweep.metric, sweep.goal, rule, perEpoch);
  const medians: Partial<Record<number, number>> = {};
  for (const [epoch, values] of Object.entries(perEpoch)) if (values && values.length >= rule.min_completed) medians[Number(epoch)] = median(values);
  return { metric: sweep.metric, goal: sweep.goal, graceEpochs: rule.grace_epochs, medians };
}

type Asha = Extract<EarlyStopping, { rule: 'asha' }>;

/** The first rung: ASHA compares no trial before min_resource × η^s epochs. */
function firstRung(rule: Asha): number {
  return rule.min_resource * rule.reduction_factor ** rule.min_early_stopping_rate;
}

/** Whether `epoch` is a rung, min_resource × η^(s + k) for some k ≥ 0. */
export function isRung(rule: Asha, epoch: number): boolean {
  let rung = firstRung(rule);
  while (rung < epoch) rung *= rule.reduction_factor;
  return rung === epoch;
}

/**
 * Optuna's SuccessiveHalvingPruner as bars: at a rung, a trial among m = n + 1 competitors (the
 * n trials recorded there and itself) goes on while among the best k = max(⌊m / η⌋, 1); so it
 * stops when worse than the k-th best of the n others (with fewer than k others it goes on).
 */
function ashaThresholds(metric: string, goal: 'maximize' | 'minimize', rule: Asha, perEpoch: EpochValues): EarlyStopThresholds {
  const bars: Partial<Record<number, number>> = {};
  for (const [key, values] of Object.entries(perEpoch)) {
    const epoch = Number(key);
    if (!values || !isRung(rule, epoch)) continue;
    const k = Math.max(Math.floor((values.length + 1) / rule.reduction_factor), 1);
    if (values.length < k) continue;
    const bestFirst = [...values].sort((a, b) => (goal === 'maximize' ? b - a : a - b));
    bars[epoch] = bestFirst[k - 1];
  }
  return { metric, goal, graceEpochs: firstRung(rule), medians: bars };
}

/** True when a trial at `epoch` (1-based) of `epochs` should stop: past the grace epochs, not last, worse than the median. */
export function shouldStop(t: EarlyStopThresholds, epoch: number, epochs: number, value: number | undefined): boolean {
  const bar = t.medians[epoch];
  if (epoch < t.graceEpochs || epoch >= epochs || bar === undefined || value === undefined) return false;
  return t.goal === 'maximize' ? value < bar : value > bar;
}
