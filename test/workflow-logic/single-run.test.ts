import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { temporal as proto } from '@temporalio/proto';
import { CONTROL_QUEUE } from '../../common/contract';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import type { SingleRunInput, singleRun } from '../../workflows/single-run';
import { useLocalTemporal } from './local-temporal';
import { FakeMlflow, fakeTrain, logicScenario, withMockedWorkers, type FakeTrainOptions } from './mocks';

/**
 * A single run's handling of its GPU job with mocked activities: which failures are retried
 * (by their ApplicationFailure type), a missed heartbeat, out-of-memory halving.
 */

jest.setTimeout(60_000);

const temporal = useLocalTemporal();

function trainScenario(version: string, training = 'epochs: 2, batch_size: 16, learning_rate: 0.01'): Scenario {
  return logicScenario(version, `training: { ${training} }`);
}

/** Runs a single run to its end with the stand-in `train`; returns its outcome and each train attempt's (attempt, batch size). */
async function run(scenario: Scenario, train: FakeTrainOptions, extra: Omit<SingleRunInput, 'scenario'> = {}) {
  const mlflow = new FakeMlflow();
  const attempts: [number, number | undefined][] = [];
  const outcome = await withMockedWorkers(
    temporal.env,
    {
      control: mlflow.activities(),
      gpu: fakeTrain(temporal.env.client, {
        ...train,
        failure: (input, attempt) => {
          attempts.push([attempt, input.batchSize]);
          return train.failure?.(input, attempt);
        },
      }),
    },
    async () => {
      const handle = await temporal.env.client.workflow.start<typeof singleRun>('singleRun', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, ...extra }] });
      const result = await handle.result().catch((e: unknown) => e);
      return { result, history: await handle.fetchHistory() };
    },
  );
  return { ...outcome, attempts, mlflow };
}

/** The ApplicationFailure at the end of a workflow → activity → application failure chain. */
function rootFailure(err: unknown): ApplicationFailure {
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const activity = (err as WorkflowFailedError).cause;
  expect(activity).toBeInstanceOf(ActivityFailure);
  return (activity as ActivityFailure).cause as ApplicationFailure;
}

describe('single run: failures of its GPU job (mocked activities)', () => {
  it('retries a retryable failure type (ExecutorCrashed); the second attempt finishes the run', async () => {
    const crash = (_: unknown, attempt: number) => (attempt === 1 ? ApplicationFailure.create({ message: 'executor exited with code 3', type: 'ExecutorCrashed' }) : undefined);
    const { result, attempts, mlflow } = await run(trainScenario('retry'), { failure: crash, value: () => 0.42 });
    expect(attempts.map(([attempt]) => attempt)).toEqual([1, 2]);
    expect(result).toEqual(expect.objectContaining({ metrics: { 'det.mAP50_95': 0.42 } }));
    expect(mlflow.statuses()).toEqual({ 'ppe-yolov8n-train-retry': 'FINISHED' });
  });

  it('does not retry a failure whose type the retry policy lists as non-retryable (InvalidDataset), and ends the run FAILED', async () => {
    // nonRetryable is not set on the failure itself: the policy's nonRetryableErrorTypes decide by type
    const bad = () => ApplicationFailure.create({ message: 'dataset.path: /nonexistent/data.yaml does not exist', type: 'InvalidDataset' });
    const { result, attempts, mlflow } = await run(trainScenario('nonretry'), { failure: bad });
    expect(attempts).toHaveLength(1);
    const cause = rootFailure(result);
    expect(cause.type).toBe('InvalidDataset');
    expect(cause.message).toBe('dataset.path: /nonexistent/data.yaml does not exist');
    expect(mlflow.statuses()).toEqual({ 'ppe-yolov8n-train-nonretry': 'FAILED' });
  });

  it('halves the batch after each out-of-memory failure, down to what fits, and records it', async () => {
    const oom = (input: { batchSize?: number }) => ((input.batchSize ?? 16) > 4 ? ApplicationFailure.create({ message: 'CUDA out of memory', type: 'OutOfMemory', nonRetryable: true }) : undefined);
    const { result, attempts, mlflow } = await run(trainScenario('oom', 'epochs: 1, batch_size: 16, min_batch_size: 2, learning_rate: 0.01'), { failure: oom });
    expect(attempts.map(([, batch]) => batch)).toEqual([16, 8, 4]);
    expect(result).toEqual(expect.objectContaining({ runName: 'ppe-yolov8n-train-oom' }));
    expect([...mlflow.runs.values()][0].metrics).toEqual(expect.objectContaining({ 'train.batch_size_effective': 4, 'oom.retries': 2 }));
  });

  it('a job that goes silent misses its heartbeat timeout and runs again; the retried attempt carries the heartbeat timeout as its last failure', async () => {
    const scenario = trainScenario('silent', 'epochs: 2, batch_size: 16, learning_rate: 0.01');
    const { result, attempts, history } = await run(scenario, { epochSeconds: () => 0.1, silentAttempts: [1] }, { gpuHeartbeatTimeout: '2s' });
    expect(attempts.map(([attempt]) => attempt)).toEqual([1, 2]);
    expect(result).toEqual(expect.objectContaining({ runName: 'ppe-yolov8n-train-silent' }));
    const started = history.events!.find((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt === 2)!;
    expect(started.activityTaskStartedEventAttributes!.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(proto.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  });
});
