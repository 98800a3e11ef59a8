import { checkScenario } from '../../scenarios/validate';
import { gridSize, plannedRuns, searchSpace, trialCount, trialParams } from '../../scenarios/sweep-trials';

/**
 * `strategy: tpe` (model-based search): ranges in `sweep.parameters`, a required `max_runs` of at
 * most 500, `bayesian` read as `tpe`; each refusal names its field, as schema-fields.test.ts does.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const BASE = {
  name: 't',
  version: 'v1',
  type: 'train',
  design: 'sweep',
  site: { customer: 'c', region: 'r', plant: 'p', zone: 'z' },
  task: { type: 'ppe', classes: ['helmet'] },
  model: { architecture: 'yolov8n.yaml', input_size: 64 },
  dataset: { path: '/d/data.yaml', version: 'v1' },
  training: { epochs: 3, batch_size: 16, learning_rate: 0.01, min_batch_size: 4 },
};

const withSweep = (sweep: Record<string, Json>) => ({ ...BASE, sweep });
const tpe = (parameters: Record<string, Json>, extra: Record<string, Json> = {}) => withSweep({ strategy: 'tpe', max_runs: 20, parameters, ...extra });

function issuesOf(input: unknown): string[] {
  const checked = checkScenario(input);
  return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
}

function sweepOf(input: unknown) {
  const checked = checkScenario(input);
  if (!checked.ok) throw new Error(`expected a valid scenario: ${JSON.stringify(checked.issues)}`);
  return checked.scenario.sweep!;
}

describe('sweep strategy: tpe', () => {
  it('accepts float, log, integer and stepped ranges next to lists (categorical)', () => {
    const sweep = sweepOf(
      tpe({
        learning_rate: { low: 0.0001, high: 0.1, log: true },
        batch_size: { low: 8, high: 64, step: 8 },
        epochs: { low: 1, high: 5 },
        input_size: { low: 64, high: 256, step: 32 },
        optimizer: ['SGD', 'Adam'],
      }),
    );
    expect(sweep.strategy).toBe('tpe');
    expect(sweep.max_runs).toBe(20);
    expect(searchSpace(sweep)).toEqual({
      learning_rate: { type: 'float', low: 0.0001, high: 0.1, log: true },
      batch_size: { type: 'int', low: 8, high: 64, log: false, step: 8 },
      epochs: { type: 'int', low: 1, high: 5, log: false },
      input_size: { type: 'int', low: 64, high: 256, log: false, step: 32 },
      optimizer: { type: 'categorical', choices: ['SGD', 'Adam'] },
    });
    expect(gridSize(sweep)).toBe(Infinity);
    expect(trialCount(sweep, 20)).toBe(20);
  });

  it('bounds the trials by the points an integer space has', () => {
    const sweep = sweepOf(tpe({ batch_size: { low: 8, high: 32, step: 8 }, optimizer: ['SGD', 'Adam'] }));
    expect(gridSize(sweep)).toBe(8);
    expect(trialCount(sweep, 20)).toBe(8);
  });

  it('reads the seeds’ `bayesian` as tpe', () => {
    expect(sweepOf(withSweep({ strategy: 'bayesian', max_runs: 10, parameters: { learning_rate: { low: 0.001, high: 0.1 } } })).strategy).toBe('tpe');
  });

  it('requires max_runs, at most 500', () => {
    expect(issuesOf(withSweep({ strategy: 'tpe', parameters: { learning_rate: [0.01, 0.1] } }))).toEqual(['sweep.max_runs: required for strategy: tpe: the number of trials the search runs (at most 500)']);
    expect(issuesOf(withSweep({ strategy: 'bayesian', parameters: { learning_rate: [0.01, 0.1] } }))).toEqual(['sweep.max_runs: required for strategy: bayesian: the number of trials the search runs (at most 500)']);
    expect(issuesOf(tpe({ learning_rate: [0.01, 0.1] }, { max_runs: 500 }))).toEqual([]);
    expect(issuesOf(tpe({ learning_rate: [0.01, 0.1] }, { max_runs: 501 }))).toEqual(['sweep.max_runs: expected at most 500 for strategy: tpe (the sweep keeps every finished trial for the sampler), got 501']);
    // grid and random without max_runs run every combination
    const whole = sweepOf(withSweep({ strategy: 'random', parameters: { learning_rate: [0.01, 0.1] } }));
    expect(whole.max_runs).toBeUndefined();
    expect(trialCount(whole, plannedRuns(whole))).toBe(2);
  });

  it('takes ranges in random sweeps (with max_runs) and stepped ranges in grids', () => {
    expect(issuesOf(withSweep({ strategy: 'random', max_runs: 5, parameters: { learning_rate: { low: 0.001, high: 0.1 } } }))).toEqual([]);
    expect(issuesOf(withSweep({ parameters: { epochs: { low: 1, high: 3 } } }))).toEqual([
      'sweep.parameters.epochs.step: required for a range in a grid, which runs its values low end, low end + step, …, high end (step: 1 for every integer); or sample the range with strategy: random (with max_runs) or tpe',
    ]);
    expect(issuesOf(withSweep({ parameters: { epochs: { low: 1, high: 3, step: 1 } } }))).toEqual([]);
  });

  it('refuses malformed ranges, naming the field', () => {
    expect(issuesOf(tpe({ learning_rate: { low: 0.1, high: 0.01 } }))).toEqual(['sweep.parameters.learning_rate.high: expected more than low (0.1), got 0.01']);
    expect(issuesOf(tpe({ learning_rate: { low: 0.01 } }))).toEqual(['sweep.parameters.learning_rate.high: required (a number)']);
    expect(issuesOf(tpe({ learning_rate: { low: 0.01, high: 0.1, scale: 'log' } }))).toEqual(['sweep.parameters.learning_rate.scale: unknown key']);
    expect(issuesOf(tpe({ epochs: { low: 1, high: 9, log: true, step: 2 } }))).toEqual(['sweep.parameters.epochs.step: a step cannot go with log: true (a log range is sampled continuously)']);
    expect(issuesOf(tpe({ patience: { low: 0, high: 10, log: true } }))).toEqual(['sweep.parameters.patience.low: expected more than 0 with log: true, got 0']);
    expect(issuesOf(tpe({ learning_rate: 0.01 }))).toEqual(['sweep.parameters.learning_rate: expected a list of values, or a range such as { min: 0.0001, max: 0.1, log: true } or { int: [8, 64] }, got number 0.01']);
    expect(issuesOf(tpe({ learning_rate: null }))).toEqual(['sweep.parameters.learning_rate: expected a list of values, or a range such as { min: 0.0001, max: 0.1, log: true } or { int: [8, 64] }, got null']);
  });

  it('checks a range against the field it overrides', () => {
    expect(issuesOf(tpe({ learning_rate: { low: 0.001, high: 2 } }))).toEqual([expect.stringMatching(/^sweep\.parameters\.learning_rate: high end 2: .*1/)]);
    expect(issuesOf(tpe({ epochs: { low: 1.5, high: 4 } }))).toEqual([expect.stringMatching(/^sweep\.parameters\.epochs: low end 1\.5: .*int/)]);
    expect(issuesOf(tpe({ batch_size: { low: 2, high: 16 } }))).toEqual(['sweep.parameters.batch_size: low end 2: expected at least training.min_batch_size (4), got 2']);
    expect(issuesOf(tpe({ input_size: { low: 64, high: 100 } }))).toEqual(['sweep.parameters.input_size: high end 100: expected a multiple of 32, got 100']);
    expect(issuesOf(tpe({ input_size: { low: 64, high: 128 } }))).toEqual(['sweep.parameters.input_size.step: expected a step that keeps every value valid: low end + step = 65 is not a valid input_size']);
    expect(issuesOf(tpe({ batch_size: { low: 8, high: 20, step: 8 } }))).toEqual(['sweep.parameters.batch_size.step: expected a step that divides the range (12), got 8']);
    expect(issuesOf(tpe({ epochs: { low: 1, high: 3, step: 0.5 } }))).toEqual(['sweep.parameters.epochs.step: expected an integer step for epochs, got 0.5']);
    expect(issuesOf(tpe({ optimizer: { low: 1, high: 3 } }))).toEqual(['sweep.parameters.optimizer: expected a list of values: optimizer is not numeric, so it cannot be a range']);
  });

  it('keeps the list messages of grid sweeps', () => {
    expect(issuesOf(withSweep({ parameters: { learning_rate: [0.01, -1] } }))).toEqual([expect.stringMatching(/^sweep\.parameters\.learning_rate\.1: /)]);
    expect(issuesOf(withSweep({ parameters: { epochs: [] } }))).toEqual(['sweep.parameters.epochs: expected at least 1 item, got 0']);
  });

  it('never hands a tpe sweep its trials by index', () => {
    expect(() => trialParams(sweepOf(tpe({ learning_rate: [0.01, 0.1] })), 0)).toThrow('a tpe sweep takes its trials from the suggestTrials activity, not from an index');
  });
});
