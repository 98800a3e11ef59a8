import { ApplicationFailure } from '@temporalio/common';
import { createSearchActivities, parseSuggestions, type SearchTrial, type SuggestInput } from '../../activities/search/activities';
import { FailureType } from '../../common/failure-types';
import { loadSettings } from '../../common/settings';

/** `suggestTrials` through executors/suggest.py (Optuna's TPE in the project's venv). */

jest.setTimeout(60_000);

const { suggestTrials } = createSearchActivities({ python: loadSettings().python });

const space: SuggestInput['space'] = {
  learning_rate: { type: 'float', low: 0.0001, high: 0.1, log: true },
  batch_size: { type: 'int', low: 8, high: 64, log: false, step: 8 },
  optimizer: { type: 'categorical', choices: ['SGD', 'Adam', 'AdamW'] },
};

/** Twelve finished trials (past TPE's ten random start-up trials), one running, one failed. */
const trials: SearchTrial[] = [
  ...Array.from({ length: 12 }, (_, i): SearchTrial => ({ params: { learning_rate: 0.0001 * 1.8 ** i, batch_size: 8 + 8 * (i % 8), optimizer: ['SGD', 'Adam', 'AdamW'][i % 3] }, value: i / 12, state: 'complete' })),
  { params: { learning_rate: 0.05, batch_size: 16, optimizer: 'Adam' }, value: null, state: 'running' },
  { params: { learning_rate: 0.07, batch_size: 24, optimizer: 'SGD' }, value: null, state: 'fail' },
];

const input: SuggestInput = { space, seed: 7, firstIndex: 14, goal: 'maximize', count: 4, trials };

function expectInSpace(params: Record<string, unknown>): void {
  expect(Object.keys(params).sort()).toEqual(['batch_size', 'learning_rate', 'optimizer']);
  const lr = params.learning_rate as number;
  expect(lr).toBeGreaterThanOrEqual(0.0001);
  expect(lr).toBeLessThanOrEqual(0.1);
  expect([8, 16, 24, 32, 40, 48, 56, 64]).toContain(params.batch_size);
  expect(['SGD', 'Adam', 'AdamW']).toContain(params.optimizer);
}

describe('suggestTrials (executors/suggest.py, Optuna TPE)', () => {
  it('asks `count` trials within the space, the same ones for the same input', async () => {
    const first = await suggestTrials(input);
    expect(first).toHaveLength(4);
    first.forEach(expectInSpace);
    // a batch of asked trials are told apart (constant liar): not four copies of one point
    expect(new Set(first.map((p) => JSON.stringify(p))).size).toBe(4);
    expect(await suggestTrials(input)).toEqual(first);
  });

  it('asks differently for another trial index or seed, and from an empty history', async () => {
    const first = await suggestTrials(input);
    expect(await suggestTrials({ ...input, firstIndex: 15 })).not.toEqual(first);
    expect(await suggestTrials({ ...input, seed: 2 ** 40 + 7 })).not.toEqual(first);
    const cold = await suggestTrials({ ...input, trials: [], count: 2 });
    expect(cold).toHaveLength(2);
    cold.forEach(expectInSpace);
  });

  it('refuses a bad request non-retryably, naming the field', async () => {
    const err = await suggestTrials({ ...input, trials: [{ params: { learning_rate: 0.01 }, value: 0.5, state: 'complete' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: FailureType.ExecutorProtocolViolation, nonRetryable: true, message: expect.stringContaining("trials[0].params: expected exactly the parameters ['batch_size', 'learning_rate', 'optimizer']") });
  });

  it('refuses an answer of the wrong shape or size', () => {
    expect(() => parseSuggestions('not json', { space, count: 1 })).toThrow(/suggest\.py answered with no JSON/);
    expect(() => parseSuggestions('{"suggestions": [{"learning_rate": [1]}]}', { space, count: 1 })).toThrow(/suggest\.py answered in the wrong shape: suggestions\.0\.learning_rate/);
    expect(() => parseSuggestions('{"suggestions": []}', { space, count: 1 })).toThrow('suggest.py answered 0 suggestions, 1 asked');
    expect(() => parseSuggestions('{"suggestions": [{"learning_rate": 0.01}]}', { space, count: 1 })).toThrow('suggest.py answered suggestion 0 with parameters learning_rate, expected batch_size,learning_rate,optimizer');
  });
});
