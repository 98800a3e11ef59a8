import type { EarlyStopThresholds } from '../common/contract';
import type { Sweep } from '../scenarios/schema';

/**
 * The median-stopping rule (beyond the seeds): a trial whose metric at epoch k is worse than
 * the median of completed trials at epoch k stops. Pure: the sweep keeps the per-epoch values
 * of completed trials and sends the medians to its running trials, which apply them.
 */

/** Values per epoch kept for the medians: enough for a stable median, bounded for any sweep size. */
export const MEDIAN_WINDOW = 200;

/** Adds a completed trial's per-epoch values (index 0 = epoch 1), keeping the most recent window. */
export function recordCompleted(perEpoch: number[][], history: (number | null)[]): number[][] {
  const next = perEpoch.map((values) => values.slice());
  history.forEach((value, epoch) => {
    if (value === null || !Number.isFinite(value)) return;
    while (next.length <= epoch) next.push([]);
    next[epoch].push(value);
    if (next[epoch].length > MEDIAN_WINDOW) next[epoch].shift();
  });
  return next;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The medians a running trial compares itself with; `null` where too few trials reached that epoch. */
export function thresholds(sweep: Pick<Sweep, 'metric' | 'goal' | 'early_stopping'>, perEpoch: number[][]): EarlyStopThresholds | undefined {
  const rule = sweep.early_stopping;
  if (!rule) return undefined;
  return {
    metric: sweep.metric,
    goal: sweep.goal,
    graceEpochs: rule.grace_epochs,
    medians: perEpoch.map((values) => (values.length >= rule.min_completed ? median(values) : null)),
  };
}

/** True when a trial at `epoch` (1-based) of `epochs` should stop: past the grace epochs, not last, worse than the median. */
export function shouldStop(t: EarlyStopThresholds, epoch: number, epochs: number, value: number | undefined): boolean {
  const bar = t.medians[epoch - 1];
  if (epoch < t.graceEpochs || epoch >= epochs || bar === null || bar === undefined || value === undefined) return false;
  return t.goal === 'maximize' ? value < bar : value > bar;
}
