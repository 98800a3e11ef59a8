import { CancelledFailure, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { batchProgressQuery, CONTROL_QUEUE, gpuPermitSignal, gpuReleasedSignal, pauseSignal, resumeSignal, setMaxRunsUpdate, sweepTrialId, type BatchProgress } from '../../common/contract';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import type { TrainInput } from '../../activities/gpu/activities';
import { sweepSlotRelay } from '../../activities/gpu/sweep-slot-relay';
import type { sweep, SweepInput } from '../../workflows/sweep';
import { eventually } from '../support/harness';
import { useLocalTemporal } from './local-temporal';
import { FakeMlflow, fakeTrain, logicScenario, withMockedWorkers, type FakeTrainOptions } from './mocks';

/**
 * The sweep workflow's logic with mocked activities on a Temporal server of this file's own:
 * signals, the `set-max-runs` update and its validator, continue-as-new, cancellation.
 */

jest.setTimeout(90_000);

const temporal = useLocalTemporal();

function sweepScenario(version: string, block: string, training = 'epochs: 2, batch_size: 16, learning_rate: 0.01'): Scenario {
  return logicScenario(version, `design: sweep\ntraining: { ${training} }\nsweep: ${block}`);
}

async function start(scenario: Scenario, extra: Omit<SweepInput, 'scenario'> = {}): Promise<WorkflowHandle<typeof sweep>> {
  return temporal.env.client.workflow.start<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, ...extra }] });
}

const progressOf = (handle: WorkflowHandle<typeof sweep>): Promise<BatchProgress> => handle.query(batchProgressQuery);
const lr = (input: TrainInput) => input.scenario.training!.learning_rate;
/** The learning rates of the 5-trial grids below, in trial order. */
const lrs = [0.001, 0.003, 0.01, 0.03, 0.1];

/** Runs `fn` with mocked workers: the in-memory MLflow and the stand-in GPU `train`. */
function withWorkers<T>(mlflow: FakeMlflow, train: FakeTrainOptions, fn: () => Promise<T>, control = mlflow.activities()): Promise<T> {
  return withMockedWorkers(temporal.env, { control, gpu: fakeTrain(temporal.env.client, train) }, fn);
}

/** The message of a rejected update (the validator's error). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as Error).message;
}

describe('sweep workflow logic (mocked activities)', () => {
  it('pause holds new trials while running ones finish; resume starts the rest', async () => {
    const scenario = sweepScenario('pause', '{ parameters: { learning_rate: [0.001, 0.01, 0.1] }, parallel: 1 }');
    const mlflow = new FakeMlflow();
    const result = await withWorkers(mlflow, { epochSeconds: () => 0.2 }, async () => {
      const handle = await start(scenario);
      await handle.signal(pauseSignal);
      // no GPU job, and nothing left recording (a trial whose job ended before the pause may still be)
      const held = await eventually(async () => {
        const first = await progressOf(handle);
        if (first.phase !== 'paused' || first.running !== 0) return undefined;
        await new Promise((r) => setTimeout(r, 500));
        const p = await progressOf(handle);
        return p.running === 0 && p.done === first.done ? p : undefined;
      });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await progressOf(handle)).toEqual(expect.objectContaining({ phase: 'paused', running: 0, done: held.done }));
      expect(held.done).toBeLessThan(3);
      await handle.signal(resumeSignal);
      return handle.result();
    });
    expect(result).toEqual(expect.objectContaining({ total: 3, done: 3, failed: 0, cancelled: 0 }));
  });

  it('set-max-runs raises the trial count, refuses lowering it, and is refused once every trial has started', async () => {
    const scenario = sweepScenario('maxruns', '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] }, strategy: random, max_runs: 2, parallel: 1 }');
    const mlflow = new FakeMlflow();
    let reportStarted = false;
    let releaseReport: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => (releaseReport = resolve));
    const control = mlflow.activities({
      sweepReport: async () => {
        reportStarted = true;
        await reported;
        return { trials: 3, csvKey: 'results.csv', chartKey: 'sweep_chart.png' };
      },
    });
    const result = await withWorkers(
      mlflow,
      {},
      async () => {
        const handle = await start(scenario);
        await handle.signal(pauseSignal);
        expect(await handle.executeUpdate(setMaxRunsUpdate, { args: [3] })).toBe(3);
        expect(await refusal(handle.executeUpdate(setMaxRunsUpdate, { args: [1] }))).toBe('max_runs can only be raised: it is 3, got 1');
        expect(await refusal(handle.executeUpdate(setMaxRunsUpdate, { args: [3.5] }))).toBe('max_runs can only be raised: it is 3, got 3.5');
        await handle.signal(resumeSignal);
        await eventually(() => Promise.resolve(reportStarted ? true : undefined));
        expect(await refusal(handle.executeUpdate(setMaxRunsUpdate, { args: [5] }))).toBe('max_runs can no longer change: the sweep has started all its trials and starts no more trials');
        expect((await progressOf(handle)).total).toBe(3);
        releaseReport();
        return handle.result();
      },
      control,
    );
    expect(result).toEqual(expect.objectContaining({ total: 3, done: 3 }));
  });

  it('continue-as-new carries the counters, the best trial, a raised max_runs and the early-stopping medians', async () => {
    // run 1 starts trials 0, 1 (0.9, 0.7: the medians) and hands them over; run 2 starts trial 2 (fails) and
    // trial 3 (0.2, stopped by the medians); run 3 starts trial 4, there only because max_runs was raised from 4 to 5 in run 1
    const scenario = sweepScenario(
      'rotate',
      // a random order (a grid runs whole, so only a random sweep runs fewer than its grid): seed 0 walks this list as 0.01, 0.02, 0.001, 0.003, 0.009
      '{ parameters: { learning_rate: [0.001, 0.01, 0.009, 0.02, 0.003] }, strategy: random, seed: 0, max_runs: 4, parallel: 1, early_stopping: { min_completed: 2, grace_epochs: 1 } }',
      'epochs: 3, batch_size: 16, learning_rate: 0.01',
    );
    const values: Record<string, number> = { '0.01': 0.9, '0.02': 0.7, '0.003': 0.2, '0.009': 0.85 };
    const mlflow = new FakeMlflow();
    const train: FakeTrainOptions = {
      value: (input) => values[String(lr(input))],
      // the stopped trial trains long enough for the cancel to reach it (heartbeats flush every second)
      epochSeconds: (input) => (lr(input) === 0.003 ? 1 : 0.2),
      failure: (input) => (lr(input) === 0.001 ? ApplicationFailure.create({ message: 'dataset.path: no such file', type: 'InvalidDataset', nonRetryable: true }) : undefined),
    };
    const { result, runs, trial1 } = await withWorkers(mlflow, train, async () => {
      const handle = await start(scenario, { trialsPerRun: 2 });
      expect(await handle.executeUpdate(setMaxRunsUpdate, { args: [5] })).toBe(5);
      const result = await handle.result();
      const runs: { startTime: Date; closeTime?: Date }[] = [];
      for await (const execution of temporal.env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(execution);
      const trial1 = await temporal.env.client.workflow.getHandle(`${handle.workflowId}/trial-1`).describe();
      return { result, runs, trial1 };
    });
    expect(runs).toHaveLength(3);
    // no drain: run 1 continued as new while its trials ran; trial 1 (prepared ahead in run 1) ended in a later run
    const firstRun = runs.reduce((a, b) => (a.startTime < b.startTime ? a : b));
    expect(trial1.closeTime!.getTime()).toBeGreaterThan(firstRun.closeTime!.getTime());
    expect(result).toEqual(expect.objectContaining({ total: 5, done: 3, failed: 1, stopped: 1, cancelled: 0 }));
    expect(result.best).toEqual(expect.objectContaining({ index: 0, value: 0.9, params: { learning_rate: 0.01 } }));
    const stopped = [...mlflow.runs.values()].find((r) => r.tags['sweep.stopped_early'] === 'true');
    expect(stopped?.tags['sweep.index']).toBe('3');
    expect(stopped?.tags['sweep.stopped_at_epoch']).toBe('1');
    expect(mlflow.runs.get(result.runId)?.metrics).toEqual(expect.objectContaining({ 'sweep.completed': 3, 'sweep.failed': 1, 'sweep.stopped_early': 1, 'sweep.cancelled': 0 }));
  });

  it('prepares trials ahead: never more than `parallel` GPU jobs, and a freed slot starts the next job before the last trial\'s bookkeeping ends', async () => {
    const scenario = sweepScenario('ahead', '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] }, parallel: 2 }', 'epochs: 2, batch_size: 16, learning_rate: 0.01');
    const mlflow = new FakeMlflow();
    const gpuJobs = { now: 0, max: 0 };
    const trainStarted = new Map<number, number>();
    const slotsHeld = new Map<number, TrainInput['sweepSlot']>();
    const uploadEnded = new Map<string, number>();
    const control = mlflow.activities({
      // the trial's bookkeeping after its job: slow on purpose
      uploadArtifacts: async (input) => {
        await new Promise((r) => setTimeout(r, 1500));
        uploadEnded.set(input.artifactUri.split('/')[2], Date.now()); // mlflow-artifacts:/1/{runId}/artifacts
        return input.files.map((f) => f.artifactPath);
      },
    });
    const train = fakeTrain(temporal.env.client, { epochSeconds: () => 0.3 });
    const { result, seen } = await withMockedWorkers(
      temporal.env,
      {
        control,
        gpu: {
          train: async (input) => {
            trainStarted.set(lrs.indexOf(lr(input)), Date.now());
            slotsHeld.set(lrs.indexOf(lr(input)), input.sweepSlot);
            gpuJobs.max = Math.max(gpuJobs.max, ++gpuJobs.now);
            try {
              const trained = await train.train(input);
              gpuJobs.now--;
              // as the real job does (activities/gpu/activities.ts): it hands its slot on itself and says so
              await sweepSlotRelay(temporal.env.client).release(input.sweepSlot!);
              return { ...trained, sweepSlotReleased: true };
            } catch (err) {
              gpuJobs.now--;
              throw err;
            }
          },
        },
      },
      async () => {
        const handle = await start(scenario);
        const seen = await eventually(async () => {
          const p = await progressOf(handle);
          return p.running === 2 && p.queued === 2 ? p : undefined;
        });
        return { result: await handle.result(), seen };
      },
    );
    expect(seen).toEqual(expect.objectContaining({ running: 2, queued: 2, done: 0 }));
    expect(result).toEqual(expect.objectContaining({ total: 5, done: 5, failed: 0, cancelled: 0 }));
    expect(gpuJobs.max).toBe(2);
    // each job knows its slot, to hand it back itself as its executor ends (test/unit/sweep-slot-handback.test.ts)
    expect([...slotsHeld].sort(([a], [b]) => a - b)).toEqual(lrs.map((_, index) => [index, { sweepId: workflowId(scenario), index }]));
    // …and the trial, told so by the job's result, does not signal again: one release per trial
    const { events } = await temporal.env.client.workflow.getHandle(workflowId(scenario)).fetchHistory();
    const released = events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === gpuReleasedSignal.name);
    expect(released).toHaveLength(5);
    // trials 2 and 3, prepared while 0 and 1 train, are designated to them: jobs 0 and 1 permit them
    // directly and say so (the sweep sends them no permit); the later jobs hand on or give back
    const payloads = (e: (typeof released)[number]) => (e.workflowExecutionSignaledEventAttributes!.input?.payloads ?? []).map((p) => JSON.parse(Buffer.from(p.data!).toString()) as number);
    const releases = released.map(payloads).sort((a, b) => a[0] - b[0]);
    expect(releases.slice(0, 2).map(([from]) => from)).toEqual([0, 1]);
    expect(releases.slice(0, 2).map(([, to]) => to).sort()).toEqual([2, 3]);
    expect(releases.slice(2).map(([index]) => index)).toEqual([2, 3, 4]);
    const permitsSent = events!.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === gpuPermitSignal.name).map((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes!.workflowExecution!.workflowId);
    expect(permitsSent).not.toContain(sweepTrialId(workflowId(scenario), 2));
    expect(permitsSent).not.toContain(sweepTrialId(workflowId(scenario), 3));
    for (const index of [2, 3]) {
      const trial = await temporal.env.client.workflow.getHandle(sweepTrialId(workflowId(scenario), index)).fetchHistory();
      expect(trial.events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === gpuPermitSignal.name)).toHaveLength(1);
    }
    // trials 2 and 3 start training while trials 0 and 1 still upload (a 1.5 s upload after a 0.6 s job)
    const uploadEndOf = (index: number) => uploadEnded.get([...mlflow.runs.values()].find((r) => r.name === `ppe-yolov8n-train-ahead-${index}`)!.runId)!;
    expect(trainStarted.get(2)!).toBeLessThan(uploadEndOf(0));
    expect(trainStarted.get(3)!).toBeLessThan(uploadEndOf(1));
  });

  it('cancelling the sweep counts its running and prepared trials as cancelled, not failed, and ends every run KILLED', async () => {
    const scenario = sweepScenario('cancel', '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] }, parallel: 2 }', 'epochs: 100, batch_size: 16, learning_rate: 0.01');
    const mlflow = new FakeMlflow();
    const progress = await withWorkers(mlflow, { epochSeconds: () => 0.1 }, async () => {
      const handle = await start(scenario);
      // two trials train, two more are prepared (runs open) and wait for a slot, the fifth is not started
      await eventually(async () => {
        const p = await progressOf(handle);
        return p.running === 2 && p.queued === 2 && mlflow.runs.size === 5 ? true : undefined;
      });
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      return progressOf(handle);
    });
    expect(progress).toEqual(expect.objectContaining({ phase: 'cancelled', running: 0, queued: 0, done: 0, failed: 0, cancelled: 4 }));
    expect(mlflow.runs.get(progress.runId!)?.metrics).toEqual(expect.objectContaining({ 'sweep.cancelled': 4, 'sweep.failed': 0 }));
    expect(mlflow.statuses()).toEqual({
      'ppe-yolov8n-sweep-cancel': 'KILLED',
      'ppe-yolov8n-train-cancel-0': 'KILLED',
      'ppe-yolov8n-train-cancel-1': 'KILLED',
      'ppe-yolov8n-train-cancel-2': 'KILLED',
      'ppe-yolov8n-train-cancel-3': 'KILLED',
    });
  });

  it('a trial cancelled on its own is counted cancelled and the sweep goes on', async () => {
    const scenario = sweepScenario('cancel-one', '{ parameters: { learning_rate: [0.001, 0.01, 0.1] }, parallel: 1 }', 'epochs: 20, batch_size: 16, learning_rate: 0.01');
    const mlflow = new FakeMlflow();
    const result = await withWorkers(mlflow, { epochSeconds: (input) => (lr(input) === 0.01 ? 1 : 0.01) }, async () => {
      const handle = await start(scenario);
      // Trial 1 starts only after trial 0 is counted done, so retry the cancel until its workflow exists
      // (eventually() treats the not-found error as not yet).
      const trial1 = temporal.env.client.workflow.getHandle(`${handle.workflowId}/trial-1`);
      await eventually(async () => ((await progressOf(handle)).done === 1 ? trial1.cancel().then(() => true) : undefined));
      return handle.result();
    });
    expect(result).toEqual(expect.objectContaining({ total: 3, done: 2, failed: 0, cancelled: 1 }));
  });

  it('fail_fast: the failed trial counts as failed, the trials it cancels as cancelled', async () => {
    const scenario = sweepScenario('failfast', '{ parameters: { learning_rate: [0.001, 0.01] }, parallel: 2, fail_fast: true }', 'epochs: 50, batch_size: 16, learning_rate: 0.01');
    const mlflow = new FakeMlflow();
    const failure = (input: TrainInput) => (lr(input) === 0.001 ? ApplicationFailure.create({ message: 'dataset.path: no such file', type: 'InvalidDataset', nonRetryable: true }) : undefined);
    const { err, progress } = await withWorkers(mlflow, { epochSeconds: () => 0.1, failure }, async () => {
      const handle = await start(scenario);
      const err = await handle.result().catch((e: unknown) => e);
      return { err, progress: await progressOf(handle) };
    });
    expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('TrialFailed');
    expect(progress).toEqual(expect.objectContaining({ phase: 'failed', failed: 1, cancelled: 1 }));
  });

  it('set-max-runs racing continue-as-new: every accepted raise is carried to the run that finishes the sweep', async () => {
    const scenario = sweepScenario('race', '{ parameters: { learning_rate: [0.001, 0.002, 0.003, 0.005, 0.01] }, strategy: random, max_runs: 2, parallel: 1 }', 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    const mlflow = new FakeMlflow();
    const { result, accepted } = await withWorkers(mlflow, { epochSeconds: () => 0 }, async () => {
      const handle = await start(scenario, { trialsPerRun: 1 });
      const accepted: number[] = [];
      for (let maxRuns = 3; maxRuns <= 5; maxRuns++) {
        const outcome = await handle.executeUpdate(setMaxRunsUpdate, { args: [maxRuns] }).catch((e: unknown) => e);
        if (typeof outcome === 'number') accepted.push(outcome);
        else expect(((outcome as WorkflowUpdateFailedError).cause as Error).message).toMatch(/^max_runs can no longer change: /);
      }
      return { result: await handle.result(), accepted };
    });
    expect(accepted.length).toBeGreaterThan(0);
    expect(result.total).toBe(accepted[accepted.length - 1]);
    expect(result.done).toBe(result.total);
  });
});
