import { parse } from 'yaml';
import { parseScenarioText } from '../../scenarios/loader';
import { checkScenario } from '../../scenarios/validate';
import { gridSize, trialCount, trialParams, trialScenario } from '../../scenarios/sweep-trials';
import { recordCompleted, shouldStop, thresholds, MEDIAN_WINDOW } from '../../workflows/early-stopping';

const BASE = `
name: t
version: v1
type: train
design: sweep
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: d.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;
const scenarioWith = (sweep: string) => parseScenarioText(`${BASE}sweep: ${sweep}\n`);
const issuesOf = (sweep: string) => {
  const checked = checkScenario(parse(`${BASE}sweep: ${sweep}\n`));
  return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
};

describe('sweep trials', () => {
  const params = { learning_rate: [0.001, 0.01, 0.1], batch_size: [8, 16] };

  it('grid: every combination once, first parameter slowest, capped by max_runs', () => {
    const sweep = { parameters: params, strategy: 'grid' as const, seed: 0 };
    expect(gridSize(sweep)).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((i) => trialParams(sweep, i))).toEqual([
      { learning_rate: 0.001, batch_size: 8 },
      { learning_rate: 0.001, batch_size: 16 },
      { learning_rate: 0.01, batch_size: 8 },
      { learning_rate: 0.01, batch_size: 16 },
      { learning_rate: 0.1, batch_size: 8 },
      { learning_rate: 0.1, batch_size: 16 },
    ]);
    expect(trialCount(sweep, 4)).toBe(4);
    expect(trialCount(sweep, 50)).toBe(6);
  });

  it('random: a seeded order of distinct combinations, the same for the same seed', () => {
    const of = (seed: number) => Array.from({ length: 6 }, (_, i) => JSON.stringify(trialParams({ parameters: params, strategy: 'random', seed }, i)));
    expect(of(3)).toEqual(of(3));
    expect(new Set(of(3)).size).toBe(6);
    expect(of(3)).not.toEqual(of(4));
    const big = { parameters: { a: Array.from({ length: 50 }, (_, i) => i), b: Array.from({ length: 40 }, (_, i) => i) }, strategy: 'random' as const, seed: 1 };
    expect(new Set(Array.from({ length: 2000 }, (_, i) => JSON.stringify(trialParams(big, i)))).size).toBe(2000);
  });

  it('a trial scenario carries its values in their blocks and is a single run', () => {
    const s = scenarioWith('{ parameters: { learning_rate: [0.001], input_size: [96], seed: [3] } }');
    const trial = trialScenario(s, { learning_rate: 0.001, input_size: 96, seed: 3 });
    expect(trial.design).toBe('single');
    expect(trial.sweep).toBeUndefined();
    expect([trial.training!.learning_rate, trial.model.input_size, trial.environment.seed]).toEqual([0.001, 96, 3]);
    expect(s.training!.learning_rate).toBe(0.01);
  });

  it('refuses unknown parameters and values their field refuses, naming them', () => {
    expect(issuesOf('{ parameters: { momentum: [0.9] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.momentum: not a sweepable parameter/)]);
    expect(issuesOf('{ parameters: { learning_rate: [0.01, -1] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.learning_rate\.1: /)]);
    expect(issuesOf('{ parameters: { input_size: [100] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.input_size\.0: expected a multiple of 32/)]);
  });
});

describe('median early stopping', () => {
  const rule = { metric: 'm', goal: 'maximize' as const, early_stopping: { rule: 'median' as const, min_completed: 2, grace_epochs: 2 } };

  it('medians per epoch once enough trials completed it', () => {
    let perEpoch: number[][] = [];
    perEpoch = recordCompleted(perEpoch, [0.25, 0.3, 0.5]);
    expect(thresholds(rule, perEpoch)!.medians).toEqual([null, null, null]);
    perEpoch = recordCompleted(perEpoch, [0.75, 0.5, null, 0.9]);
    expect(thresholds(rule, perEpoch)!.medians).toEqual([0.5, 0.4, null, null]);
  });

  it('stops below the median after the grace epochs, never at the last epoch', () => {
    const t = { metric: 'm', goal: 'maximize' as const, graceEpochs: 2, medians: [0.5, 0.5, 0.5] };
    expect(shouldStop(t, 1, 4, 0.1)).toBe(false);
    expect(shouldStop(t, 2, 4, 0.1)).toBe(true);
    expect(shouldStop(t, 2, 4, 0.6)).toBe(false);
    expect(shouldStop(t, 3, 3, 0.1)).toBe(false);
    expect(shouldStop({ ...t, goal: 'minimize' }, 2, 4, 0.6)).toBe(true);
    expect(shouldStop({ ...t, medians: [null, null] }, 2, 4, 0.1)).toBe(false);
  });

  it('keeps a bounded window per epoch', () => {
    let perEpoch: number[][] = [];
    for (let i = 0; i < MEDIAN_WINDOW + 50; i++) perEpoch = recordCompleted(perEpoch, [i]);
    expect(perEpoch[0]).toHaveLength(MEDIAN_WINDOW);
    expect(perEpoch[0][0]).toBe(50);
  });
});
