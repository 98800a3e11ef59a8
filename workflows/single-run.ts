import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  ActivityCancellationType,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { stringify } from 'yaml';
import type { createGpuActivities } from '../activities/gpu/activities';
import type { createStorageActivities } from '../activities/storage/activities';
import type { createTrackingActivities } from '../activities/tracking/activities';
import {
  CONTROL_QUEUE,
  RunPhase,
  SearchAttr,
  gpuPoolQueue,
  progressQuery,
  trainingProgressSignal,
  type RegisteredModelRef,
  type SingleRunProgress,
} from '../common/contract';
import { FailureType, NON_RETRYABLE_FAILURES } from '../common/failure-types';
import { Alias } from '../common/registry';
import { experimentName, registeredModelName, runKey, runName } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';
import { scenarioParams, scenarioTags } from '../scenarios/tracking-fields';
import { checkScenario, formatIssues } from '../scenarios/validate';
import { withOomHalving } from './oom-halving';

type TrackingActivities = ReturnType<typeof createTrackingActivities>;
type StorageActivities = ReturnType<typeof createStorageActivities>;
type GpuActivities = ReturnType<typeof createGpuActivities>;

export interface SingleRunInput {
  /** The scenario as parsed from YAML (validated again here: plain `temporal workflow start` skips the CLI). */
  scenario: unknown;
  /** How long a GPU job may go without a heartbeat before it is retried elsewhere (default 2m). */
  gpuHeartbeatTimeout?: Duration;
}

export interface SingleRunResult {
  experimentId: string;
  runId: string;
  runName: string;
  metrics: Record<string, number>;
  model: RegisteredModelRef;
}

const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES };

const tracking = proxyActivities<TrackingActivities>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '2m', retry: { ...retry, maximumAttempts: 10 } });
const controlStorage = proxyActivities<StorageActivities>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '5m', retry: { ...retry, maximumAttempts: 10 } });

/** One train job recorded as one MLflow run that always ends FINISHED, FAILED or KILLED. */
export async function singleRun(input: SingleRunInput): Promise<SingleRunResult> {
  const scenario = validScenario(input.scenario);
  const progress: SingleRunProgress = { phase: RunPhase.starting };
  setHandler(progressQuery, () => progress);
  setHandler(trainingProgressSignal, (update) => {
    progress.training = update;
  });
  upsertSearchAttributes([
    { key: SearchAttr.site, value: experimentName(scenario) },
    { key: SearchAttr.task, value: scenario.task.type },
    { key: SearchAttr.design, value: scenario.design },
    { key: SearchAttr.type, value: scenario.type },
  ]);
  if (scenario.type !== 'train' || scenario.design !== 'single') {
    throw ApplicationFailure.create({
      message: `singleRun runs type: train, design: single scenarios; got type: ${scenario.type}, design: ${scenario.design}`,
      type: FailureType.InvalidScenario,
      nonRetryable: true,
    });
  }

  const info = workflowInfo();
  const name = runName(scenario);
  const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
  const run = await tracking.createRun({
    experimentId,
    runName: name,
    runKey: runKey(info.workflowId, info.firstExecutionRunId, 'main'),
    tags: { ...scenarioTags(scenario), 'gf.workflow_id': info.workflowId, 'gf.temporal_run_id': info.firstExecutionRunId },
    params: scenarioParams(scenario),
  });
  Object.assign(progress, { experimentId, runId: run.runId });

  try {
    await controlStorage.uploadText({ artifactUri: run.artifactUri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) });

    progress.phase = RunPhase.training;
    const gpu = proxyActivities<GpuActivities>({
      taskQueue: gpuPoolQueue(scenario.environment.gpu_pool),
      startToCloseTimeout: '72h',
      heartbeatTimeout: input.gpuHeartbeatTimeout ?? '2m',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { ...retry, maximumAttempts: 3 },
    });
    const training = scenario.training!;
    const { result: trained, oomRetries } = await withOomHalving(
      (batchSize) => gpu.train({ runId: run.runId, scenario, batchSize }),
      training.batch_size,
      training.min_batch_size,
      (batchSize, retries) => Object.assign(progress, { batchSize, oomRetries: retries }),
    );

    progress.phase = RunPhase.recording;
    await tracking.logBatch({
      runId: run.runId,
      metrics: {
        ...trained.metrics,
        'train.batch_size_effective': trained.batchSize,
        'train.epochs_completed': trained.epochsCompleted,
        'oom.retries': oomRetries,
      },
      step: trained.epochsCompleted,
    });
    const hostStorage = proxyActivities<StorageActivities>({ taskQueue: trained.hostQueue, startToCloseTimeout: '30m', retry: { ...retry, maximumAttempts: 10 } });
    await hostStorage.uploadArtifacts({ artifactUri: run.artifactUri, files: trained.files });

    progress.phase = RunPhase.registering;
    const model = await tracking.registerModel({
      name: registeredModelName(scenario),
      runId: run.runId,
      source: `${run.artifactUri}/weights/best.pt`,
      alias: Alias.candidate,
      tags: { 'exp.type': scenario.type, 'data.version': scenario.dataset.version },
    });
    progress.model = model;
    await tracking.endRun({ runId: run.runId, status: 'FINISHED' });
    progress.phase = RunPhase.finished;
    return { experimentId, runId: run.runId, runName: name, metrics: trained.metrics, model };
  } catch (err) {
    const cancelled = isCancellation(err);
    progress.phase = cancelled ? RunPhase.cancelled : RunPhase.failed;
    progress.error = err instanceof Error ? err.message : String(err);
    await CancellationScope.nonCancellable(() => tracking.endRun({ runId: run.runId, status: cancelled ? 'KILLED' : 'FAILED' }));
    throw err;
  }
}

function validScenario(raw: unknown): Scenario {
  const checked = checkScenario(raw);
  if (checked.ok) return checked.scenario;
  throw ApplicationFailure.create({
    message: `invalid scenario\n${formatIssues(checked.issues)}`,
    type: FailureType.InvalidScenario,
    nonRetryable: true,
    details: [checked.issues],
  });
}
