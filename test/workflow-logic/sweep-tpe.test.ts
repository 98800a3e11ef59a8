import { CONTROL_QUEUE } from '../../common/contract';
import { loadSettings } from '../../common/settings';
import { createSearchActivities, type SuggestInput } from '../../activities/search/activities';
import type { TrainInput } from '../../activities/gpu/activities';
import { workflowId } from '../../scenarios/naming';
import type { sweep } from '../../workflows/sweep';
import { braninScore } from '../../bench/branin';
import { useLocalTemporal } from './local-temporal';
import { FakeMlflow, fakeTrain, logicScenario, withMockedWorkers } from './mocks';

/**
 * A `tpe` sweep end to end with the real suggestion activity (Optuna in the venv) and a stand-in
 * `train` whose metric is a Branin-like score of the trial's parameters: the sweep asks for
 * parameters, tells the finished trials at each ask, and carries them across continue-as-new.
 */

jest.setTimeout(240_000);

const temporal = useLocalTemporal();

/** learning_rate ∈ [0.0001, 0.1] → x1 ∈ [-5, 10]; patience ∈ [0, 150] → x2 ∈ [0, 15]. */
const score = (input: TrainInput) => {
  const t = input.scenario.training!;
  return braninScore(-5 + (15 * (t.learning_rate - 0.0001)) / (0.1 - 0.0001), t.patience / 10);
};

it('a tpe sweep takes every trial from suggestTrials and tells it the trials of earlier runs', async () => {
  const scenario = logicScenario(
    'tpe',
    `design: sweep
training: { epochs: 2, batch_size: 16, learning_rate: 0.01 }
sweep:
  strategy: bayesian
  max_runs: 8
  parallel: 2
  seed: 11
  parameters:
    learning_rate: { low: 0.0001, high: 0.1 }
    patience: { low: 0, high: 150, step: 5 }`,
  );
  const real = createSearchActivities({ python: loadSettings().python });
  const asks: SuggestInput[] = [];
  /** The parameters suggested for each trial index. */
  const suggested: string[] = [];
  const mlflow = new FakeMlflow();
  const trained: number[] = [];
  const control = Object.assign(mlflow.activities(), {
    suggestTrials: async (input: SuggestInput) => {
      asks.push(structuredClone(input));
      const answer = await real.suggestTrials(input);
      answer.forEach((params, i) => (suggested[input.firstIndex + i] = JSON.stringify(params)));
      return answer;
    },
  });
  const train = fakeTrain(temporal.env.client, { value: score });
  const { result, runs } = await withMockedWorkers(
    temporal.env,
    {
      control,
      gpu: {
        train: (input) => {
          trained.push(score(input));
          return train.train(input);
        },
      },
    },
    async () => {
      const handle = await temporal.env.client.workflow.start<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, trialsPerRun: 3 }] });
      const result = await handle.result();
      const runs: unknown[] = [];
      for await (const execution of temporal.env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(execution);
      return { result, runs: runs.length };
    },
  );
  expect(result).toEqual(expect.objectContaining({ total: 8, done: 8, failed: 0, cancelled: 0 }));
  expect(runs).toBe(3);
  // every trial index asked for once, in order; a batch covers the trials launchable at once
  const asked = asks.flatMap((a) => Array.from({ length: a.count }, (_, i) => a.firstIndex + i));
  expect(asked).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(asks[0]).toEqual(expect.objectContaining({ firstIndex: 0, count: 3, seed: 11, goal: 'maximize', trials: [] }));
  // the last ask (third run) is told every earlier trial, from the first run on: finished ones
  // (carried in the sweep's state) with the score they trained, running ones as running
  const last = asks[asks.length - 1];
  expect(last.firstIndex).toBeGreaterThanOrEqual(6);
  expect(last.trials.map((t) => JSON.stringify(t.params)).sort()).toEqual(suggested.slice(0, last.firstIndex).sort());
  const told = last.trials.filter((t) => t.state === 'complete');
  // launching trial 5 needed a free place among the 2 × parallel open trials: two had finished
  expect(told.length).toBeGreaterThanOrEqual(2);
  expect(last.trials.every((t) => t.state === 'complete' || t.state === 'running')).toBe(true);
  for (const t of told) expect(trained).toContain(t.value);
  // each trial trained what was suggested for it: the parent's best is the best score trained
  expect(trained).toHaveLength(8);
  expect(result.best?.value).toBe(Math.max(...trained));
  const params = [...mlflow.runs.values()].filter((r) => r.tags['sweep.strategy'] === 'tpe' && r.tags['sweep.index'] !== undefined);
  expect(params).toHaveLength(8);
});
