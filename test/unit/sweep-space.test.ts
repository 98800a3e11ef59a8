import { parse } from 'yaml';
import { sweepPlan } from '../../cli/sweep-plan';
import { checkScenario } from '../../scenarios/validate';
import { gridSize, plannedRuns, trialCount, trialParams, trialScenario } from '../../scenarios/sweep-trials';
import { TrialSeeding } from '../../scenarios/search-space';
import { scenarioParams } from '../../scenarios/tracking-fields';

/**
 * Issue 15 items 2–4: grids run whole, search spaces (`{min, max}`, `log`, `{int: [lo, hi]}`,
 * `step`) sampled by random sweeps with the sweep's seed, and the training knobs (schedule,
 * augmentation) checked, sweepable and recorded.
 */

const BASE = `
name: t
version: v1
type: train
design: sweep
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: d.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01, min_batch_size: 4 }
`;
/** The base scenario with the blocks of `yaml` over its own. */
const checked = (yaml: string) => checkScenario({ ...(parse(BASE) as object), ...(parse(yaml) as object) });
const issuesOf = (yaml: string) => {
  const c = checked(yaml);
  return c.ok ? [] : c.issues.map((i) => `${i.path}: ${i.message}`);
};
const scenarioOf = (yaml: string) => {
  const c = checked(yaml);
  if (!c.ok) throw new Error(`expected a valid scenario: ${JSON.stringify(c.issues)}`);
  return c.scenario;
};
const GRID_81 = '{ learning_rate: [0.001, 0.01, 0.1], batch_size: [8, 16, 32], epochs: [1, 2, 3], optimizer: [SGD, Adam, AdamW] }';

describe('grids run whole', () => {
  it('a grid without max_runs plans every combination: 3×3×3×3 is 81 trials, in grid order, the last one included', () => {
    const sweep = scenarioOf(`sweep: { parameters: ${GRID_81} }`).sweep!;
    expect(sweep.max_runs).toBeUndefined();
    expect(gridSize(sweep)).toBe(81);
    expect(plannedRuns(sweep)).toBe(81);
    expect(trialCount(sweep, plannedRuns(sweep))).toBe(81);
    expect(trialParams(sweep, 80)).toEqual({ learning_rate: 0.1, batch_size: 32, epochs: 3, optimizer: 'AdamW' });
    expect(new Set(Array.from({ length: 81 }, (_, i) => JSON.stringify(trialParams(sweep, i)))).size).toBe(81);
    expect(sweepPlan(sweep)).toBe('81 trials of 81 combinations (grid, every combination), 1 at a time');
  });

  it('refuses a max_runs below the grid, with both numbers, and points to a seeded random subset', () => {
    expect(issuesOf(`sweep: { parameters: ${GRID_81}, max_runs: 50 }`)).toEqual([
      "sweep.max_runs: 50 is fewer than the grid's 81 combinations: a grid runs every combination (leave max_runs out), or set strategy: random for a seeded random subset of 50",
    ]);
    expect(issuesOf(`sweep: { parameters: ${GRID_81}, max_runs: 81 }`)).toEqual([]);
    const subset = scenarioOf(`sweep: { parameters: ${GRID_81}, strategy: random, max_runs: 50, seed: 3 }`).sweep!;
    expect(trialCount(subset, plannedRuns(subset))).toBe(50);
    expect(sweepPlan(subset)).toBe('50 trials of 81 combinations (random subset, seed 3), 1 at a time');
    // a subset of distinct combinations
    expect(new Set(Array.from({ length: 50 }, (_, i) => JSON.stringify(trialParams(subset, i)))).size).toBe(50);
  });

  it('expands a stepped range into grid values; refuses a range without a step, saying so', () => {
    const sweep = scenarioOf('sweep: { parameters: { learning_rate: { min: 0.1, max: 0.3, step: 0.1 }, batch_size: { int: [8, 24], step: 8 } } }').sweep!;
    expect(gridSize(sweep)).toBe(9);
    expect(Array.from({ length: 9 }, (_, i) => trialParams(sweep, i))).toEqual(
      [0.1, 0.2, 0.3].flatMap((learning_rate) => [8, 16, 24].map((batch_size) => ({ learning_rate, batch_size }))),
    );
    expect(issuesOf('sweep: { parameters: { learning_rate: { min: 0.001, max: 0.1, log: true } } }')).toEqual([
      'sweep.parameters.learning_rate.step: required for a range in a grid, which runs its values low end, low end + step, …, high end; or sample the range with strategy: random (with max_runs) or tpe',
    ]);
    expect(issuesOf('sweep: { parameters: { learning_rate: { min: 0.1, max: 0.3, step: 0.07 } } }')).toEqual(['sweep.parameters.learning_rate.step: expected a step that divides the range (0.19999999999999998), got 0.07']);
  });
});

describe('search spaces', () => {
  const RANDOM = 'sweep: { strategy: random, max_runs: 40, seed: 11, parameters: { learning_rate: { min: 0.0001, max: 0.1, log: true }, momentum: { min: 0.8, max: 0.99 }, batch_size: { int: [8, 64] }, epochs: { int: [1, 9], step: 2 }, optimizer: [SGD, AdamW] } }';

  it('reads {min, max}, log, {int: [lo, hi]} and step as the same ranges as {low, high}', () => {
    expect(scenarioOf(RANDOM).sweep!.parameters).toEqual({
      learning_rate: { low: 0.0001, high: 0.1, log: true },
      momentum: { low: 0.8, high: 0.99, log: false },
      batch_size: { low: 8, high: 64, log: false, int: true },
      epochs: { low: 1, high: 9, log: false, step: 2, int: true },
      optimizer: ['SGD', 'AdamW'],
    });
    const lowHigh = scenarioOf('sweep: { strategy: random, max_runs: 5, parameters: { learning_rate: { low: 0.0001, high: 0.1, log: true } } }').sweep!;
    const minMax = scenarioOf('sweep: { strategy: random, max_runs: 5, parameters: { learning_rate: { min: 0.0001, max: 0.1, log: true } } }').sweep!;
    expect(lowHigh.parameters).toEqual(minMax.parameters);
    // the parsed form reads back as itself: the workflow checks the scenario it is given again
    const parsed = scenarioOf(RANDOM);
    const again = checkScenario(parsed);
    expect(again.ok && again.scenario.sweep).toEqual(parsed.sweep);
  });

  it('random samples each trial from the seed and its index alone: reproducible, within bounds, integers stay integers', () => {
    const sweep = scenarioOf(RANDOM).sweep!;
    const trials = Array.from({ length: 40 }, (_, i) => trialParams(sweep, i));
    // index by index: trial 17 alone (a resumed or continued-as-new sweep) is the 17th of the whole walk
    expect(trialParams(sweep, 17)).toEqual(trials[17]);
    expect(trialParams(scenarioOf(RANDOM).sweep!, 3)).toEqual(trials[3]);
    expect(trialParams({ ...sweep, seed: 12 }, 3)).not.toEqual(trials[3]);
    for (const t of trials) {
      expect(t.learning_rate).toBeGreaterThanOrEqual(0.0001);
      expect(t.learning_rate).toBeLessThanOrEqual(0.1);
      expect(t.momentum).toBeGreaterThanOrEqual(0.8);
      expect(t.momentum).toBeLessThanOrEqual(0.99);
      expect(Number.isInteger(t.batch_size) && (t.batch_size as number) >= 8 && (t.batch_size as number) <= 64).toBe(true);
      expect([1, 3, 5, 7, 9]).toContain(t.epochs);
      expect(['SGD', 'AdamW']).toContain(t.optimizer);
      // each trial is a valid scenario of its own
      expect(trialScenario(scenarioOf(RANDOM), t).training!.learning_rate).toBe(t.learning_rate);
    }
    // log: about as many trials below the geometric middle (0.0032) as above; linear would put ~97 % above
    const below = trials.filter((t) => (t.learning_rate as number) < Math.sqrt(0.0001 * 0.1)).length;
    expect(below).toBeGreaterThan(10);
    expect(below).toBeLessThan(30);
    expect(new Set(trials.map((t) => t.learning_rate)).size).toBe(40);
    expect(trialCount(sweep, plannedRuns(sweep))).toBe(40);
    expect(sweepPlan(sweep)).toBe('40 trials of a continuous space (random, learning_rate, momentum, batch_size, epochs sampled with seed 11), 1 at a time');
  });

  it('random with ranges: the first trials of seed 11 are pinned (a running sweep must draw them again)', () => {
    const sweep = scenarioOf(RANDOM).sweep!;
    expect([0, 1, 2].map((i) => trialParams(sweep, i))).toEqual([
      { learning_rate: 0.00013223478889350763, momentum: 0.8774363895915922, batch_size: 29, epochs: 1, optimizer: 'SGD' },
      { learning_rate: 0.03459247235237415, momentum: 0.8187659584118171, batch_size: 46, epochs: 5, optimizer: 'SGD' },
      { learning_rate: 0.0006287780121992628, momentum: 0.8319034833709529, batch_size: 41, epochs: 9, optimizer: 'AdamW' },
    ]);
    // a sweep started before patched('sweep-mixed-seeding') keeps drawing the old way
    expect(trialParams(sweep, 0, TrialSeeding.split)).toEqual({ learning_rate: 0.00029955975945011583, momentum: 0.8451039493082777, batch_size: 55, epochs: 7, optimizer: 'SGD' });
  });

  it('random with ranges: a list\'s choices depend on the seed, not on the index alone (issue 16 #3)', () => {
    // Before: each generator state word came from the seed or the index alone, so the lowest bit
    // (which picks one of two items) was a part of the index XOR a part of the seed: every seed
    // drew the same 16 choices or their opposite. 64 seeds of 2^16 sequences almost never meet.
    const sweep = scenarioOf(RANDOM).sweep!;
    const choices = (seed: number, seeding?: TrialSeeding) => Array.from({ length: 16 }, (_, i) => trialParams({ ...sweep, seed }, i, seeding).optimizer).join();
    const seeds = Array.from({ length: 64 }, (_, seed) => seed);
    expect(new Set(seeds.map((seed) => choices(seed, TrialSeeding.split))).size).toBe(2);
    expect(new Set(seeds.map((seed) => choices(seed))).size).toBeGreaterThanOrEqual(62);
    // a fair coin: the first 4 trials agree for about 1/8 of the seeds (125 of 1000, sd 10.5)
    const agreeing = Array.from({ length: 1000 }, (_, seed) => new Set([0, 1, 2, 3].map((i) => trialParams({ ...sweep, seed }, i).optimizer)).size === 1).filter(Boolean).length;
    expect(agreeing).toBeGreaterThan(90);
    expect(agreeing).toBeLessThan(160);
  });

  it('validates ranges: min < max, log above 0, integer fields, numeric fields only, max_runs for random', () => {
    const random = (parameters: string, extra = ', max_runs: 5') => issuesOf(`sweep: { strategy: random${extra}, parameters: ${parameters} }`);
    expect(random('{ learning_rate: { min: 0.1, max: 0.01 } }')).toEqual(['sweep.parameters.learning_rate.max: expected more than min (0.1), got 0.01']);
    expect(random('{ weight_decay: { min: 0, max: 0.01, log: true } }')).toEqual(['sweep.parameters.weight_decay.min: expected more than 0 with log: true, got 0']);
    expect(random('{ epochs: { int: [5, 2] } }')).toEqual(['sweep.parameters.epochs.int.1: expected more than int.0 (5), got 2']);
    expect(random('{ epochs: { int: [1.5, 4] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.epochs\.int\.0: expected an integer/)]);
    expect(random('{ epochs: { min: 1.5, max: 4 } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.epochs: low end 1\.5: .*int/)]);
    expect(random('{ learning_rate: { int: [1, 2] } }')).toEqual(['sweep.parameters.learning_rate.int: learning_rate is not an integer field: write its range as { min, max }']);
    expect(random('{ optimizer: { min: 1, max: 3 } }')).toEqual(['sweep.parameters.optimizer: expected a list of values: optimizer is not numeric, so it cannot be a range']);
    expect(random('{ cos_lr: { min: 0, max: 1 } }')).toEqual(['sweep.parameters.cos_lr: expected a list of values: cos_lr is not numeric, so it cannot be a range']);
    expect(random('{ augmentation.mosaic: { min: 0.5, max: 1.5 } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.augmentation\.mosaic: high end 1\.5: .*1/)]);
    expect(random('{ learning_rate: { min: 0.001, max: 0.1, low: 0.01 } }')).toEqual(['sweep.parameters.learning_rate.low: unknown key']);
    expect(random('{ learning_rate: { min: 0.001, max: 0.1 } }', '')).toEqual(['sweep.max_runs: required for strategy: random with a range (sweep.parameters.learning_rate is sampled): the number of trials']);
    expect(random('{ learning_rate: [0.001, 0.01], training.learning_rate: [0.1] }')).toEqual(['sweep.parameters.training.learning_rate: sweeps the same field as learning_rate (training.learning_rate): name it once']);
  });
});

describe('training knobs', () => {
  const KNOBS = `training: { epochs: 3, batch_size: 16, learning_rate: 0.01, lrf: 0.1, cos_lr: true, warmup_epochs: 0.5, weight_decay: 0.001, momentum: 0.9 }
augmentation: { hsv_h: 0.02, degrees: 10, scale: 0.3, fliplr: 0, mosaic: 0.5, mixup: 0.1, close_mosaic: 0 }
sweep: { parameters: { augmentation.mosaic: [0, 1], weight_decay: [0.0005, 0.005] } }`;

  it('checks them within ultralytics’ bounds, naming the field', () => {
    expect(issuesOf(KNOBS)).toEqual([]);
    const bad = KNOBS.replace('lrf: 0.1', 'lrf: 1.5').replace('mosaic: 0.5', 'mosaic: -0.1').replace('close_mosaic: 0', 'close_mosaic: 2.5').replace('degrees: 10', 'degrees: 200');
    expect(issuesOf(bad)).toEqual([
      'training.lrf: expected at most 1, got number 1.5',
      'augmentation.degrees: expected at most 180, got number 200',
      'augmentation.mosaic: expected at least 0, got number -0.1',
      'augmentation.close_mosaic: expected an integer, got number 2.5',
    ]);
    expect(issuesOf(KNOBS.replace('augmentation: {', 'augmentation: { blur: 0.1,'))).toEqual(['augmentation.blur: unknown key']);
    expect(issuesOf('sweep: { parameters: { augmentation.close_mosaic: [0, 2.5] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.augmentation\.close_mosaic\.1: .*int/)]);
  });

  it('a trial writes its values into the blocks; the run records them as train.* and aug.* params', () => {
    const scenario = scenarioOf(KNOBS);
    expect(gridSize(scenario.sweep!)).toBe(4);
    const params = trialParams(scenario.sweep!, 3);
    expect(params).toEqual({ 'augmentation.mosaic': 1, weight_decay: 0.005 });
    const trial = trialScenario(scenario, params);
    expect(trial.augmentation).toEqual({ hsv_h: 0.02, degrees: 10, scale: 0.3, fliplr: 0, mosaic: 1, mixup: 0.1, close_mosaic: 0 });
    expect(scenarioParams(trial)).toMatchObject({
      'train.lrf': '0.1',
      'train.cos_lr': 'true',
      'train.warmup_epochs': '0.5',
      'train.weight_decay': '0.005',
      'train.momentum': '0.9',
      'aug.mosaic': '1',
      'aug.fliplr': '0',
      'aug.close_mosaic': '0',
    });
    // a scenario without an augmentation block gets one only when a trial sets an augmentation field
    const plain = scenarioOf('sweep: { parameters: { augmentation.hsv_v: [0.2], learning_rate: [0.01] } }');
    expect(trialScenario(plain, trialParams(plain.sweep!, 0)).augmentation).toEqual({ hsv_v: 0.2 });
    const untouched = scenarioOf('sweep: { parameters: { learning_rate: [0.01] } }');
    expect(trialScenario(untouched, trialParams(untouched.sweep!, 0)).augmentation).toBeUndefined();
  });

  it('refuses augmentation outside training', () => {
    const infer = checkScenario({ ...parse(BASE), type: 'infer', design: 'single', model: { architecture: 'yolov8n.yaml', input_size: 64, weights: '/w/best.pt' }, benchmark: {}, augmentation: { mosaic: 0 } });
    expect(infer.ok ? [] : infer.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['augmentation: augmentation applies to training: it needs type: train, got type: infer']);
  });
});
