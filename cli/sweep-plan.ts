import { rangeParameters, SweepStrategy, type Sweep } from '../scenarios/schema';
import { gridSize, plannedRuns, trialCount } from '../scenarios/sweep-trials';

/**
 * What a sweep will run, in one line for `gflow validate`, before any GPU time: the trials and the
 * combinations of its space (`81 trials of 81 combinations (grid, every combination)`), so a
 * partial or a sampled sweep is never a surprise.
 */
export function sweepPlan(sweep: Sweep): string {
  const size = gridSize(sweep);
  const trials = trialCount(sweep, plannedRuns(sweep));
  const space = Number.isFinite(size) ? `${size} combination${size === 1 ? '' : 's'}` : 'a continuous space';
  return `${trials} trial${trials === 1 ? '' : 's'} of ${space} (${how(sweep, trials, size)}), ${sweep.parallel} at a time`;
}

function how(sweep: Sweep, trials: number, size: number): string {
  if (sweep.strategy === SweepStrategy.tpe) return 'tpe, each trial suggested from the ones before';
  if (sweep.strategy === SweepStrategy.grid) return 'grid, every combination';
  if (rangeParameters(sweep.parameters).length > 0) return `random, ${rangeParameters(sweep.parameters).join(', ')} sampled with seed ${sweep.seed}`;
  return trials < size ? `random subset, seed ${sweep.seed}` : `random order, seed ${sweep.seed}`;
}
