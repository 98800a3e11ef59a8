import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { progressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import type { singleRun } from '../../workflows/single-run';
import { connectStack, trainScenario, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(120_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

/** Per activity type, the attempt numbers of its started events (Temporal records a retried activity's last attempt). */
function attempts(history: History, activity: string): number[] {
  const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity).map((e) => String(e.eventId));
  return history.events!.filter((e) => scheduled.includes(String(e.activityTaskStartedEventAttributes?.scheduledEventId))).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
}

/** The typed failure under a workflow failure, and the run's final progress (queried while the workers still run). */
async function failedRun(handle: WorkflowHandle<typeof singleRun>) {
  const err = await handle.result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  let cause: unknown = err;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
  return { failure: cause as ApplicationFailure, progress: await handle.query(progressQuery), history: await handle.fetchHistory() };
}

describe('retries by failure type (real Temporal and MLflow; stand-in executor)', () => {
  it('ExecutorCrashed is retried: the executor runs three times (the GPU retry policy), then the run ends FAILED', async () => {
    const scenario = trainScenario({ version: 'crashretry', dataPath: '/nonexistent/data.yaml' });
    const { failure, progress, history } = await withFakeGpu(stack, { bundle, env: { GF_FAKE_FAIL: 'internal' } }, async () =>
      failedRun(await startScenario(stack.client, scenario)),
    );
    expect(failure.type).toBe('ExecutorCrashed');
    expect(failure.message).toContain('injected failure at epoch 1');
    expect(attempts(history, 'train')).toEqual([3]);
    // each executor process appends its traceback to the run's executor log
    const log = await readFile(path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.log'), 'utf8');
    expect(log.match(/^RuntimeError: injected failure at epoch 1$/gm)).toHaveLength(3);
    expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('FAILED');
  });

  it('TrackingRejected is not retried: MLflow refuses a metric key once, the run ends FAILED', async () => {
    const scenario = trainScenario({ version: 'rejected', dataPath: '/nonexistent/data.yaml' });
    // `a//b` passes the key characters check but MLflow refuses it: the name would resolve to `a/b` as a file
    const { failure, progress, history } = await withFakeGpu(stack, { bundle, env: { GF_FAKE_RESULT_METRIC: 'det//refused' } }, async () =>
      failedRun(await startScenario(stack.client, scenario)),
    );
    expect(failure.type).toBe('TrackingRejected');
    expect(failure.message).toContain('det//refused');
    const failed = history.events!.filter((e) => e.activityTaskFailedEventAttributes);
    expect(failed).toHaveLength(1);
    const scheduledId = String(failed[0].activityTaskFailedEventAttributes!.scheduledEventId);
    const started = history.events!.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === scheduledId)!;
    expect(started.activityTaskStartedEventAttributes!.attempt).toBe(1);
    const scheduled = history.events!.find((e) => String(e.eventId) === scheduledId)!;
    expect(scheduled.activityTaskScheduledEventAttributes!.activityType!.name).toBe('logBatch');
    expect(attempts(history, 'train')).toEqual([1]);
    expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('FAILED');
  });
});
