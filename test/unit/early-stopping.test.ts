import { reportsProgress } from '../../common/contract';
import { isRung, MAX_EPOCHS_KEPT, MEDIAN_WINDOW, recordCompleted, shouldStop, thresholds, type EpochMetric, type EpochValues } from '../../workflows/early-stopping';

const rule = { metric: 'm', goal: 'maximize' as const, early_stopping: { rule: 'median' as const, min_completed: 2, grace_epochs: 2 } };

/** The metric a trial of `epochs` epochs reports: the epochs `reportsProgress` lets through, value 0.5. */
function reportedHistory(epochs: number, value = 0.5): EpochMetric {
  const history: EpochMetric = {};
  for (let epoch = 1; epoch <= epochs; epoch++) if (reportsProgress(epoch, epochs)) history[epoch] = value;
  return history;
}

describe('median early stopping', () => {
  it('medians per reported epoch once enough trials completed it', () => {
    let perEpoch: EpochValues = {};
    perEpoch = recordCompleted(perEpoch, { 1: 0.25, 2: 0.3, 3: 0.5 });
    expect(thresholds(rule, perEpoch)!.medians).toEqual({});
    perEpoch = recordCompleted(perEpoch, { 1: 0.75, 2: 0.5, 4: 0.9 });
    expect(thresholds(rule, perEpoch)!.medians).toEqual({ 1: 0.5, 2: 0.4 });
  });

  it('ignores values that are not finite', () => {
    expect(recordCompleted({}, { 1: Number.NaN, 2: Number.POSITIVE_INFINITY, 3: 0.5 })).toEqual({ 3: [0.5] });
  });

  it('stops below the median after the grace epochs, never at the last epoch nor where no median is known', () => {
    const t = { metric: 'm', goal: 'maximize' as const, graceEpochs: 2, medians: { 1: 0.5, 2: 0.5, 3: 0.5 } };
    expect(shouldStop(t, 1, 4, 0.1)).toBe(false);
    expect(shouldStop(t, 2, 4, 0.1)).toBe(true);
    expect(shouldStop(t, 2, 4, 0.6)).toBe(false);
    expect(shouldStop(t, 3, 3, 0.1)).toBe(false);
    expect(shouldStop({ ...t, goal: 'minimize' }, 2, 4, 0.6)).toBe(true);
    expect(shouldStop({ ...t, medians: { 3: 0.5 } }, 2, 4, 0.1)).toBe(false);
  });

  it('keeps a bounded window per epoch, the most recent values', () => {
    let perEpoch: EpochValues = {};
    for (let i = 0; i < MEDIAN_WINDOW + 50; i++) perEpoch = recordCompleted(perEpoch, { 1: i });
    expect(perEpoch[1]).toHaveLength(50);
    expect(perEpoch[1]![0]).toBe(50);
  });

  it('carries a bounded state whatever the epoch count of the trials', () => {
    const sizeAfter = (epochs: number) => {
      const history = reportedHistory(epochs, 0.123456789012345);
      let perEpoch: EpochValues = {};
      for (let trial = 0; trial < 300; trial++) perEpoch = recordCompleted(perEpoch, history);
      return { epochs: Object.keys(perEpoch).length, json: JSON.stringify(perEpoch).length };
    };
    expect(sizeAfter(10).epochs).toBe(10);
    expect(sizeAfter(1000).epochs).toBe(50);
    expect(sizeAfter(99_999).epochs).toBe(50);
    expect(sizeAfter(100_000).json).toBeLessThan(60_000);
  });

  it('keeps at most MAX_EPOCHS_KEPT epochs when trials of different lengths report different epochs, dropping the sparsest', () => {
    let perEpoch: EpochValues = {};
    for (let round = 0; round < 3; round++) perEpoch = recordCompleted(perEpoch, reportedHistory(50));
    for (let epochs = 51; epochs < 400; epochs += 7) perEpoch = recordCompleted(perEpoch, reportedHistory(epochs));
    expect(MAX_EPOCHS_KEPT).toBe(100);
    expect(Object.keys(perEpoch)).toHaveLength(100);
    for (let epoch = 1; epoch <= 50; epoch++) expect(perEpoch[epoch]!.length).toBeGreaterThanOrEqual(3);
  });
});

describe('median early stopping, boundaries', () => {
  it('no rule, no thresholds; the thresholds carry the sweep\'s metric, goal and grace', () => {
    expect(thresholds({ metric: 'm', goal: 'maximize' }, { 1: [1, 2, 3] })).toBeUndefined();
    expect(thresholds({ metric: 'det.box_loss', goal: 'minimize', early_stopping: { rule: 'median', min_completed: 3, grace_epochs: 4 } }, { 1: [3, 1, 2], 2: [1, 2] })).toEqual({
      metric: 'det.box_loss',
      goal: 'minimize',
      graceEpochs: 4,
      medians: { 1: 2 },
    });
  });

  it('medians sort numerically: odd and even counts', () => {
    const medians = (values: number[]) => thresholds(rule, { 1: values })!.medians[1];
    expect([medians([10, 9, 100]), medians([10, 9, 100, 2]), medians([0.5, -1])]).toEqual([10, 9.5, -0.25]);
  });

  it('skips a missing value and keeps the values of earlier trials', () => {
    expect(recordCompleted({ 1: [0.1], 2: [0.2] }, { 1: undefined, 2: 0.3, 5: 0.4 })).toEqual({ 1: [0.1], 2: [0.2, 0.3], 5: [0.4] });
  });

  it('beyond MAX_EPOCHS_KEPT epochs drops the epoch with the fewest values, and of equals the latest', () => {
    const full: EpochValues = {};
    for (let epoch = 1; epoch <= 100; epoch++) full[epoch] = [1, 2];
    expect(Object.keys(recordCompleted(full, { 150: 1 })).map(Number)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const sparseEarly = { ...full, 3: [1], 150: [1, 2, 3] };
    expect(Object.keys(recordCompleted(sparseEarly, {})).map(Number)).toEqual([1, 2, ...Array.from({ length: 97 }, (_, i) => i + 4), 150]);
    expect(Object.keys(recordCompleted(full, { 150: 1, 151: 2, 1: 3 })).map(Number)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const ones: EpochValues = {};
    for (let epoch = 1; epoch <= 100; epoch++) ones[epoch] = [1];
    expect(Object.keys(recordCompleted(ones, { 200: 5 })).map(Number)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(recordCompleted(ones, {})).toEqual(ones);
    const onesFrom2: EpochValues = {};
    for (let epoch = 2; epoch <= 101; epoch++) onesFrom2[epoch] = [1];
    expect(Object.keys(recordCompleted(onesFrom2, { 1: 5 })).map(Number)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('a value equal to the median does not stop a trial, whichever the goal; an epoch without a value does not either', () => {
    const t = { metric: 'm', goal: 'maximize' as const, graceEpochs: 1, medians: { 1: 0.5, 2: 0.5 } };
    expect([shouldStop(t, 1, 4, 0.5), shouldStop({ ...t, goal: 'minimize' }, 1, 4, 0.5), shouldStop(t, 1, 4, undefined)]).toEqual([false, false, false]);
    expect([shouldStop(t, 1, 4, 0.49), shouldStop({ ...t, goal: 'minimize' }, 1, 4, 0.51), shouldStop({ ...t, goal: 'minimize' }, 1, 4, 0.49)]).toEqual([true, true, false]);
    expect(shouldStop(t, 1, 2, 0.1)).toBe(true);
    expect(shouldStop(t, 2, 2, 0.1)).toBe(false);
  });
});

describe('asha early stopping (Optuna\'s successive halving), values worked out by hand', () => {
  const asha = (min_resource: number, reduction_factor: number, min_early_stopping_rate: number, goal: 'maximize' | 'minimize' = 'maximize') => ({
    metric: 'm',
    goal,
    early_stopping: { rule: 'asha' as const, min_resource, reduction_factor, min_early_stopping_rate },
  });
  const rungsUpTo = (rule: ReturnType<typeof asha>['early_stopping'], last: number) => Array.from({ length: last }, (_, i) => i + 1).filter((epoch) => isRung(rule, epoch));

  it('rungs are min_resource × η^(s + k): 1, 3, 9, 27 for (1, 3, 0); 4, 8, 16 for (2, 2, 1); 5, 10, 20 for (5, 2, 0)', () => {
    expect(rungsUpTo(asha(1, 3, 0).early_stopping, 30)).toEqual([1, 3, 9, 27]);
    expect(rungsUpTo(asha(2, 2, 1).early_stopping, 20)).toEqual([4, 8, 16]);
    expect(rungsUpTo(asha(5, 2, 0).early_stopping, 25)).toEqual([5, 10, 20]);
  });

  it('the bar at a rung is the k-th best of the n trials recorded there, k = max(⌊(n + 1) / η⌋, 1); no bar off the rungs', () => {
    const perEpoch: EpochValues = {
      1: [0.5, 0.9, 0.1, 0.7, 0.3], // n 5, k ⌊6/3⌋ = 2: 0.7 (maximize), 0.3 (minimize)
      2: [0.2, 0.4], // not a rung
      3: [0.4], // n 1, k max(0, 1) = 1: 0.4
      9: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], // n 8, k ⌊9/3⌋ = 3: 0.6 (maximize), 0.3 (minimize)
      27: [], // nobody yet
    };
    expect(thresholds(asha(1, 3, 0), perEpoch)).toEqual({ metric: 'm', goal: 'maximize', graceEpochs: 1, medians: { 1: 0.7, 3: 0.4, 9: 0.6 } });
    expect(thresholds(asha(1, 3, 0, 'minimize'), perEpoch)).toEqual({ metric: 'm', goal: 'minimize', graceEpochs: 1, medians: { 1: 0.3, 3: 0.4, 9: 0.3 } });
  });

  it('no trial is compared before the first rung, min_resource × η^s; a trial worse than the bar there stops', () => {
    const t = thresholds(asha(2, 2, 1), { 2: [0.9, 0.8], 4: [0.9, 0.8, 0.7] })!;
    // epoch 2 is below the first rung 4; at 4: n 3, k ⌊4/2⌋ = 2, bar 0.8
    expect(t).toEqual({ metric: 'm', goal: 'maximize', graceEpochs: 4, medians: { 4: 0.8 } });
    expect([shouldStop(t, 4, 10, 0.79), shouldStop(t, 4, 10, 0.8), shouldStop(t, 2, 10, 0.1)]).toEqual([true, false, false]);
  });
});

describe('training progress reports', () => {
  const reported = (epochs: number) => Array.from({ length: epochs }, (_, i) => i + 1).filter((epoch) => reportsProgress(epoch, epochs));

  it('reports every epoch of a training of up to 50 epochs', () => {
    expect(reported(3)).toEqual([1, 2, 3]);
    expect(reported(50)).toHaveLength(50);
  });

  it('reports evenly spaced epochs of a long training, always the last', () => {
    expect(reported(51)).toHaveLength(26);
    expect(reported(51).slice(-3)).toEqual([48, 50, 51]);
    expect(reported(300).slice(0, 3)).toEqual([6, 12, 18]);
    expect(reported(300)).toHaveLength(50);
    expect(reported(999)).toHaveLength(50);
    expect(reported(999).slice(-2)).toEqual([980, 999]);
    expect(reported(100_000)).toHaveLength(50);
  });
});
