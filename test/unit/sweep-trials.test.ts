import { ApplicationFailure } from '@temporalio/common';
import { parse } from 'yaml';
import { FailureType } from '../../common/failure-types';
import { parseScenarioText } from '../../scenarios/loader';
import { checkScenario } from '../../scenarios/validate';
import { gridSize, trialCount, trialParams, trialScenario } from '../../scenarios/sweep-trials';
import { validScenario } from '../../workflows/valid-scenario';

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

  it('grid: three parameters, the last varying fastest', () => {
    const sweep = { parameters: { epochs: [1, 2], optimizer: ['SGD', 'Adam'], seed: [7, 8] }, strategy: 'grid' as const, seed: 0 };
    expect(Array.from({ length: 8 }, (_, i) => Object.values(trialParams(sweep, i)))).toEqual([
      [1, 'SGD', 7],
      [1, 'SGD', 8],
      [1, 'Adam', 7],
      [1, 'Adam', 8],
      [2, 'SGD', 7],
      [2, 'SGD', 8],
      [2, 'Adam', 7],
      [2, 'Adam', 8],
    ]);
  });

  const orderOf = (seed: number, parameters: Record<string, (string | number | boolean)[]> = params, length = gridSize({ parameters })) =>
    Array.from({ length }, (_, i) => Object.values(trialParams({ parameters, strategy: 'random', seed }, i)));

  it('random: a seeded order of distinct combinations, the same for the same seed', () => {
    expect(orderOf(3)).toEqual(orderOf(3));
    expect(new Set(orderOf(3).map(String)).size).toBe(6);
    expect(orderOf(3)).not.toEqual(orderOf(4));
    const big = { a: Array.from({ length: 50 }, (_, i) => i), b: Array.from({ length: 40 }, (_, i) => i) };
    expect(new Set(orderOf(1, big, 2000).map(String)).size).toBe(2000);
  });

  it('random: the order of a small grid is pinned for a few seeds (it must not change by accident)', () => {
    expect(orderOf(0)).toEqual([
      [0.1, 16],
      [0.01, 16],
      [0.001, 8],
      [0.1, 8],
      [0.01, 8],
      [0.001, 16],
    ]);
    expect(orderOf(7)).toEqual([
      [0.001, 8],
      [0.1, 8],
      [0.1, 16],
      [0.01, 16],
      [0.01, 8],
      [0.001, 16],
    ]);
    // The high 32 bits of the seed count too (issue 16 #3: they were cut off).
    expect(orderOf(2 ** 32 + 7)).toEqual([
      [0.1, 16],
      [0.01, 16],
      [0.001, 16],
      [0.01, 8],
      [0.001, 8],
      [0.1, 8],
    ]);
  });

  it('random: every combination exactly once, whatever the grid size (primes and 1 included)', () => {
    for (const n of [1, 2, 3, 5, 7, 13, 16, 17, 97, 100, 101, 256, 257, 1000]) {
      for (const seed of [0, 1, 12345, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
        const values = orderOf(seed, { epochs: Array.from({ length: n }, (_, i) => i + 1) }).map(([v]) => v as number);
        expect(values.sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      }
    }
    const twoByThreeBySeven = { epochs: [1, 2], optimizer: ['SGD', 'Adam', 'AdamW'], seed: [0, 1, 2, 3, 4, 5, 6] };
    expect(new Set(orderOf(5, twoByThreeBySeven).map(String)).size).toBe(42);
  });

  it('random: the first trials spread over the values like a uniform shuffle, for every seed (issue 16 #3)', () => {
    // 10×10 grid, first 10 trials. For a uniform random permutation the expected number of
    // distinct values of one parameter is 10·(1 − C(90,10)/C(100,10)) = 6.6952 (standard error of
    // a 1000-seed mean 0.031), and P(3 or fewer) = 0.0002, so 1000 seeds should show 0.2 such.
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const tens = { learning_rate: ten.map((i) => i / 1000), batch_size: ten.map((i) => i * 8) };
    const distinct: number[][] = [[], []];
    for (let seed = 0; seed < 1000; seed++) {
      const first = orderOf(seed, tens, 10);
      for (const p of [0, 1]) distinct[p].push(new Set(first.map((values) => values[p])).size);
    }
    for (const counts of distinct) {
      const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
      expect(Math.abs(mean - 6.6952)).toBeLessThan(0.1);
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(3);
      expect(counts.filter((c) => c <= 3).length).toBeLessThanOrEqual(2);
    }
  });

  it('a trial scenario carries its values in their blocks and is a single run', () => {
    const s = scenarioWith('{ parameters: { learning_rate: [0.001], input_size: [96], seed: [3] } }');
    const trial = trialScenario(s, { learning_rate: 0.001, input_size: 96, seed: 3 });
    expect(trial.design).toBe('single');
    expect(trial.sweep).toBeUndefined();
    expect([trial.training!.learning_rate, trial.model.input_size, trial.environment.seed]).toEqual([0.001, 96, 3]);
    expect(s.training!.learning_rate).toBe(0.01);
  });

  it('every sweepable parameter lands in its own field, and the sweep\'s scenario is left as it was', () => {
    const s = scenarioWith('{ parameters: { batch_size: [8], epochs: [7], optimizer: [Adam], patience: [5], architecture: [yolov8s.yaml], seed: [9], input_size: [96], learning_rate: [0.002] } }');
    const trial = trialScenario(s, { batch_size: 8, epochs: 7, optimizer: 'Adam', patience: 5, architecture: 'yolov8s.yaml', seed: 9, input_size: 96, learning_rate: 0.002 });
    expect(trial.training).toEqual({ epochs: 7, batch_size: 8, learning_rate: 0.002, optimizer: 'Adam', patience: 5, min_batch_size: 1, plots: true });
    expect(trial.model).toEqual({ architecture: 'yolov8s.yaml', input_size: 96, weights: null });
    expect(trial.environment).toEqual({ device: 'auto', precision: 'fp32', seed: 9, gpu_pool: 'default', workers: 2 });
    expect(s.training).toEqual({ epochs: 3, batch_size: 16, learning_rate: 0.01, optimizer: 'SGD', patience: 100, min_batch_size: 1, plots: true });
    expect(s.model).toEqual({ architecture: 'yolov8n.yaml', input_size: 64, weights: null });
    expect(s.environment.seed).toBe(42);
    expect(s.design).toBe('sweep');
  });

  it('a trial keeps the environment the scenario sets', () => {
    const s = parseScenarioText(`${BASE}environment: { device: cpu, seed: 5, workers: 0 }\nsweep: { parameters: { learning_rate: [0.001] } }\n`);
    expect(trialScenario(s, { learning_rate: 0.001 }).environment).toEqual({ device: 'cpu', precision: 'fp32', seed: 5, gpu_pool: 'default', workers: 0 });
  });

  it('random: the order of a grid whose size is a power of two is pinned too (running sweeps replay it)', () => {
    const four = { epochs: [1, 2, 3, 4], patience: [0, 1, 2, 3] };
    expect(orderOf(0, four).map(([e, p]) => `${e}/${p}`)).toEqual(['3/3', '4/1', '4/3', '2/3', '3/0', '1/1', '4/0', '4/2', '1/2', '1/0', '3/2', '2/1', '3/1', '1/3', '2/0', '2/2']);
  });

  it('refuses unknown parameters and values their field refuses, naming them', () => {
    expect(issuesOf('{ parameters: { dropout: [0.1] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.dropout: not a sweepable parameter/)]);
    expect(issuesOf('{ parameters: { learning_rate: [0.01, -1] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.learning_rate\.1: /)]);
    expect(issuesOf('{ parameters: { input_size: [100] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.input_size\.0: expected a multiple of 32/)]);
  });

  it('names of Object.prototype are unknown parameters, not a TypeError; __proto__ is reported, not dropped (issue 16 #9, #13)', () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      expect(issuesOf(`{ parameters: { ${name}: [1] } }`)).toEqual([`sweep.parameters.${name}: not a sweepable parameter; expected one of learning_rate, batch_size, epochs, optimizer, patience, lrf, cos_lr, warmup_epochs, weight_decay, momentum, input_size, architecture, seed, their dotted paths (training.learning_rate, model.input_size, …) or augmentation.<field> (hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective, flipud, fliplr, bgr, mosaic, mixup, cutmix, copy_paste, close_mosaic)`]);
    }
    expect(issuesOf('{ parameters: { __proto__: [1], learning_rate: [0.01] } }')).toEqual([expect.stringMatching(/^sweep\.parameters\.__proto__: not a sweepable parameter/)]);
    const fromJson = JSON.parse('{"parameters": {"__proto__": [1]}}') as unknown;
    const checked = checkScenario({ ...(parse(BASE) as object), sweep: fromJson });
    expect(checked.ok ? [] : checked.issues.map((i) => i.path)).toEqual(['sweep.parameters.__proto__']);
  });

  it('a workflow given such a scenario fails with InvalidScenario', () => {
    let err: unknown;
    try {
      validScenario(parse(`${BASE}sweep: { parameters: { constructor: [1] } }\n`), 'sweep');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: FailureType.InvalidScenario, nonRetryable: true, message: expect.stringContaining('sweep.parameters.constructor: not a sweepable parameter') });
  });

  it('refuses an empty parameter map and repeated values, naming the index; keeps the order given (issue 16 #13)', () => {
    expect(issuesOf('{ parameters: {} }')).toEqual(['sweep.parameters: expected at least one parameter to sweep, e.g. learning_rate: [0.001, 0.01]']);
    expect(issuesOf('{ parameters: { learning_rate: [0.01, 0.001, 0.01], optimizer: [SGD, SGD] } }')).toEqual([
      'sweep.parameters.learning_rate.2: duplicate of index 0 (0.01): each value is one trial',
      'sweep.parameters.optimizer.1: duplicate of index 0 ("SGD"): each value is one trial',
    ]);
    expect(scenarioWith('{ parameters: { learning_rate: [0.1, 0.001, 0.01] } }').sweep!.parameters).toEqual({ learning_rate: [0.1, 0.001, 0.01] });
  });

  it('refuses swept batch sizes below training.min_batch_size (issue 16 #4)', () => {
    const withFloor = (sweep: string) => checkScenario(parse(`${BASE.replace('batch_size: 16,', 'batch_size: 16, min_batch_size: 8,')}sweep: ${sweep}\n`));
    const checked = withFloor('{ parameters: { batch_size: [4, 8, 32] } }');
    expect(checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['sweep.parameters.batch_size.0: expected at least training.min_batch_size (8), got 4']);
    expect(withFloor('{ parameters: { batch_size: [8, 32] } }').ok).toBe(true);
  });

  it('uses all of a seed above 2^32 and refuses one beyond exact integers', () => {
    expect(scenarioWith(`{ parameters: { learning_rate: [0.01] }, seed: ${2 ** 40} }`).sweep!.seed).toBe(2 ** 40);
    expect(issuesOf(`{ parameters: { learning_rate: [0.01] }, seed: ${2 ** 53} }`)).toEqual([expect.stringMatching(/^sweep\.seed: /)]);
  });

  it('refuses a grid too large to address exactly', () => {
    const huge = Array.from({ length: 6 }, (_, i) => i + 1);
    const many = `[${Array.from({ length: 1000 }, (_, i) => (i + 1) / 10000).join(', ')}]`;
    expect(issuesOf(`{ parameters: { learning_rate: ${many}, epochs: [${Array.from({ length: 1000 }, (_, i) => i + 1).join(', ')}], patience: [${Array.from({ length: 1000 }, (_, i) => i).join(', ')}], seed: [${Array.from({ length: 1000 }, (_, i) => i).join(', ')}], batch_size: [${Array.from({ length: 1000 }, (_, i) => i + 1).join(', ')}], optimizer: [SGD, Adam], input_size: [${huge.map((h) => h * 32).join(', ')}] } }`)).toEqual([
      'sweep.parameters: 12000000000000000 combinations; at most 2^52 can be swept',
    ]);
  });
});
