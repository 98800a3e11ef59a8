import { checkScenario } from '../../scenarios/validate';
import { isRung, recordCompleted, shouldStop, thresholds, type EpochValues } from '../../workflows/early-stopping';

/**
 * `early_stopping.rule: asha`: Optuna's SuccessiveHalvingPruner as bars at rung epochs
 * (min_resource × η^(s + k)); a trial among m competitors at a rung goes on while among the best
 * max(⌊m / η⌋, 1) of them (Optuna's `_is_trial_promotable_to_next_rung`).
 */

const asha = (goal: 'maximize' | 'minimize' = 'maximize') => ({
  metric: 'm',
  goal,
  early_stopping: { rule: 'asha' as const, min_resource: 1, reduction_factor: 3, min_early_stopping_rate: 0 },
});

function perEpochOf(histories: Record<number, number>[]): EpochValues {
  return histories.reduce<EpochValues>((acc, h) => recordCompleted(acc, h), {});
}

describe('asha early stopping', () => {
  it('rungs at min_resource × η^(s + k)', () => {
    const rule = { rule: 'asha' as const, min_resource: 2, reduction_factor: 3, min_early_stopping_rate: 1 };
    expect([1, 2, 6, 12, 18, 54, 162].filter((e) => isRung(rule, e))).toEqual([6, 18, 54, 162]);
    expect([1, 2, 3, 4, 9, 27].filter((e) => isRung({ ...rule, min_resource: 1, min_early_stopping_rate: 0 }, e))).toEqual([1, 3, 9, 27]);
  });

  it('bars only at rungs: the best other trial while fewer than 2η − 1 others, then the ⌊m/η⌋-th best', () => {
    // rung epochs 1, 3 (η = 3); epoch 2 is no rung
    const one = perEpochOf([{ 1: 0.4, 2: 0.5, 3: 0.6 }]);
    expect(thresholds(asha(), one)).toEqual({ metric: 'm', goal: 'maximize', graceEpochs: 1, medians: { 1: 0.4, 3: 0.6 } });
    const five = perEpochOf([{ 1: 0.1 }, { 1: 0.5 }, { 1: 0.3 }, { 1: 0.9 }, { 1: 0.7 }]);
    // m = 6 with the trial itself: it must be among the best 2, so above the second best of the five others
    expect(thresholds(asha(), five)!.medians).toEqual({ 1: 0.7 });
    expect(thresholds(asha('minimize'), five)!.medians).toEqual({ 1: 0.3 });
  });

  it('stops a trial worse than its rung bar, from the first rung on, never at its last epoch', () => {
    const t = thresholds({ ...asha(), early_stopping: { ...asha().early_stopping, min_resource: 2 } }, perEpochOf([{ 2: 0.5, 6: 0.8 }]))!;
    expect(t.graceEpochs).toBe(2);
    expect(shouldStop(t, 2, 10, 0.4)).toBe(true);
    expect(shouldStop(t, 2, 10, 0.5)).toBe(false);
    expect(shouldStop(t, 6, 10, 0.7)).toBe(true);
    expect(shouldStop(t, 6, 6, 0.7)).toBe(false);
  });
});

describe('early_stopping rule fields', () => {
  const scenario = (earlyStopping: object) => ({
    name: 't',
    version: 'v1',
    type: 'train',
    design: 'sweep',
    site: { customer: 'c', region: 'r', plant: 'p', zone: 'z' },
    task: { type: 'ppe', classes: ['helmet'] },
    model: { architecture: 'yolov8n.yaml', input_size: 64 },
    dataset: { path: '/d/data.yaml', version: 'v1' },
    training: { epochs: 3, batch_size: 16, learning_rate: 0.01 },
    sweep: { parameters: { learning_rate: [0.01] }, early_stopping: earlyStopping },
  });
  const issuesOf = (earlyStopping: object) => {
    const checked = checkScenario(scenario(earlyStopping));
    return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
  };
  const parsedRule = (earlyStopping: object) => {
    const checked = checkScenario(scenario(earlyStopping));
    if (!checked.ok) throw new Error(JSON.stringify(checked.issues));
    return checked.scenario.sweep!.early_stopping;
  };

  it('asha has its own defaults, median keeps its own', () => {
    expect(parsedRule({ rule: 'asha' })).toEqual({ rule: 'asha', min_resource: 1, reduction_factor: 3, min_early_stopping_rate: 0 });
    expect(parsedRule({ rule: 'asha', min_resource: 2, reduction_factor: 4, min_early_stopping_rate: 1 })).toEqual({ rule: 'asha', min_resource: 2, reduction_factor: 4, min_early_stopping_rate: 1 });
    expect(parsedRule({})).toEqual({ rule: 'median', min_completed: 3, grace_epochs: 1 });
  });

  it('refuses a field of the other rule and out-of-range asha fields, naming them', () => {
    expect(issuesOf({ rule: 'asha', min_completed: 2 })).toEqual(['sweep.early_stopping.min_completed: goes with rule: median, not rule: asha']);
    expect(issuesOf({ reduction_factor: 3 })).toEqual(['sweep.early_stopping.reduction_factor: goes with rule: asha, not rule: median']);
    expect(issuesOf({ rule: 'asha', reduction_factor: 1 })).toEqual(['sweep.early_stopping.reduction_factor: expected at least 2, got number 1']);
    expect(issuesOf({ rule: 'asha', min_resource: 0 })).toEqual(['sweep.early_stopping.min_resource: expected at least 1, got number 0']);
    expect(issuesOf({ rule: 'asha', min_early_stopping_rate: -1 })).toEqual(['sweep.early_stopping.min_early_stopping_rate: expected at least 0, got number -1']);
  });
});
