import { stringify } from 'yaml';
import type { RegisteredModelRef, SingleRunProgress } from '../../common/contract';
import { RunPhase } from '../../common/contract';
import { Alias } from '../../common/registry';
import { registeredModelName } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import { withOomHalving } from '../oom-halving';
import { controlStorage, gpuJobs, hostStorage, tracking } from '../proxies';
import type { CreatedRun } from '../../activities/tracking/activities';
import type { Duration } from '@temporalio/common';

export interface StageContext {
  scenario: Scenario;
  run: CreatedRun;
  progress: SingleRunProgress;
  gpuHeartbeatTimeout?: Duration;
}

export interface TrainStageResult {
  metrics: Record<string, number>;
  model: RegisteredModelRef;
}

/** Train → log final metrics → upload weights and tables → register the version as candidate. */
export async function trainStage({ scenario, run, progress, gpuHeartbeatTimeout }: StageContext): Promise<TrainStageResult> {
  const training = scenario.training!;
  await controlStorage.uploadText({ artifactUri: run.artifactUri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) });

  progress.phase = RunPhase.training;
  const gpu = gpuJobs(scenario.environment.gpu_pool, gpuHeartbeatTimeout);
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
  await hostStorage(trained.hostQueue).uploadArtifacts({ artifactUri: run.artifactUri, files: trained.files });

  progress.phase = RunPhase.registering;
  const model = await tracking.registerModel({
    name: registeredModelName(scenario),
    runId: run.runId,
    source: `${run.artifactUri}/weights/best.pt`,
    alias: Alias.candidate,
    tags: { 'exp.type': scenario.type, 'data.version': scenario.dataset.version },
  });
  progress.model = model;
  return { metrics: trained.metrics, model };
}
