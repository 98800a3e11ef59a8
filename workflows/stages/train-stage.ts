import { stringify } from 'yaml';
import type { RegisteredModelRef, SingleRunProgress, SweepSlot } from '../../common/contract';
import { CHECKPOINT_ARTIFACT, RunPhase } from '../../common/contract';
import { Alias } from '../../common/registry';
import { registeredModelName } from '../../scenarios/naming';
import { paramsLine } from '../../common/workflow-metadata';
import type { Scenario } from '../../scenarios/schema';
import { withOomHalving } from '../oom-halving';
import { controlStorage, gpuJobs, tracking } from '../proxies';
import { isHostLost, uploadFromHost } from './host-upload';
import type { TrainResult } from '../../activities/gpu/activities';
import type { CreatedRun } from '../../activities/tracking/activities';
import type { Duration } from '@temporalio/common';
import { isCancellation, type CancellationScope } from '@temporalio/workflow';

export interface StageContext {
  scenario: Scenario;
  /** What the run is, in the activity summaries the Web UI shows (`trial 7`, `arm yolov8s`, the run's name). */
  label: string;
  run: CreatedRun;
  progress: SingleRunProgress;
  gpuHeartbeatTimeout?: Duration;
  hostUploadWait?: Duration;
}

/** A decision of the early-stopping rule: the epoch at which the trial stopped. */
export interface StopDecision {
  epoch: number;
  value: number;
  median: number;
}

export interface TrainOptions {
  /** False for sweep trials: the sweep registers only its best trial. */
  register: boolean;
  /** The train job runs in this scope, which the early-stopping rule cancels. */
  stopScope?: CancellationScope;
  stopDecision?: () => StopDecision | undefined;
  /** A sweep's GPU slot: the job starts once acquired, and the slot is released when the job ends. */
  gpuSlot?: GpuSlot;
}

/** A slot of a sweep's `parallel` GPU jobs (see TrialOptions.gpuSlot). */
export interface GpuSlot {
  acquire: () => Promise<void>;
  release: () => void;
  /** Passed to the train job, which hands the slot back itself the moment its executor ends (TrainInput.sweepSlot). */
  held?: SweepSlot;
}

export interface TrainStageResult {
  metrics: Record<string, number>;
  /** Where the trained weights are (`…/weights/best.pt`), to register them later. */
  modelSource?: string;
  model?: RegisteredModelRef;
  stoppedEarly?: StopDecision & { gpuSecondsSaved: number };
}

/**
 * Train → log final metrics → upload weights and tables → register the version as candidate
 * (unless the caller registers). A trial the early-stopping rule cancels ends here with the
 * metrics of its last epoch and `sweep.stopped_early`.
 */
export async function trainStage(ctx: StageContext, options: TrainOptions = { register: true }): Promise<TrainStageResult> {
  const { scenario, run, progress, gpuHeartbeatTimeout, label } = ctx;
  const training = scenario.training!;
  await uploadScenario(ctx);

  if (options.gpuSlot) {
    progress.phase = RunPhase.waitingForGpu;
    await options.gpuSlot.acquire();
  }
  progress.phase = RunPhase.training;
  const gpu = gpuJobs(scenario.environment.gpu_pool, gpuHeartbeatTimeout);
  const started = Date.now();
  const job = () =>
    withOomHalving(
      (batchSize) =>
        gpu.train.executeWithOptions(
          // the host is known only once a slot takes the job: at scheduling time, the pool's queue
          { summary: `train ${label} · ${paramsLine({ learning_rate: training.learning_rate, batch_size: batchSize, epochs: training.epochs })} · pool ${scenario.environment.gpu_pool}` },
          [{ runId: run.runId, scenario, batchSize, ...(options.gpuSlot?.held && { sweepSlot: options.gpuSlot.held }) }],
        ),
      training.batch_size,
      training.min_batch_size,
      (batchSize, retries) => Object.assign(progress, { batchSize, oomRetries: retries }),
    );
  let halved: Awaited<ReturnType<typeof job>>;
  try {
    halved = await (options.stopScope ? options.stopScope.run(job) : job());
  } catch (err) {
    options.gpuSlot?.release();
    const stop = options.stopDecision?.();
    if (!stop || !isCancellation(err)) throw err;
    return recordStoppedEarly(ctx, stop, (Date.now() - started) / 1000);
  }
  const { result: trained, oomRetries } = halved;
  // a job that handed the slot back itself spares the sweep a second signal (and workflow task)
  if (!trained.sweepSlotReleased) options.gpuSlot?.release();

  progress.phase = RunPhase.recording;
  await tracking.logBatch.executeWithOptions({ summary: `record ${label}'s final metrics (${Object.keys(trained.metrics).length}) and effective batch size` }, [{
    runId: run.runId,
    metrics: {
      ...trained.metrics,
      'train.batch_size_effective': trained.batchSize,
      'train.epochs_completed': trained.epochsCompleted,
      'oom.retries': oomRetries,
    },
    step: trained.epochsCompleted,
  }]);
  const modelSource = await uploadTrained(ctx, trained);
  if (!options.register) return { metrics: trained.metrics, modelSource };

  progress.phase = RunPhase.registering;
  const model = await registerTrained(scenario, run.runId, modelSource);
  progress.model = model;
  return { metrics: trained.metrics, modelSource, model };
}

/**
 * Uploads what the training left on its host and returns where the weights are. A host gone
 * before the upload took its best.pt with it; when the training had uploaded its last checkpoint
 * to the run's folder, that checkpoint (the final epoch's weights) stands in, and the run says so
 * (`weights.fallback`); otherwise the run fails `HostLost` naming the files lost.
 */
async function uploadTrained({ run, hostUploadWait }: StageContext, trained: TrainResult): Promise<string> {
  try {
    await uploadFromHost(trained.hostQueue, run.artifactUri, trained.files, hostUploadWait);
    return `${run.artifactUri}/weights/best.pt`;
  } catch (err) {
    if (!isHostLost(err) || trained.uploadedCheckpointEpoch === undefined) throw err;
    await tracking.logBatch({
      runId: run.runId,
      tags: { 'weights.fallback': `${CHECKPOINT_ARTIFACT} (epoch ${trained.uploadedCheckpointEpoch}): ${err.message}`.slice(0, 5000) },
    });
    return `${run.artifactUri}/${CHECKPOINT_ARTIFACT}`;
  }
}

/** The run's `config/scenario.yaml`: what an optimizer action starts again from. */
export async function uploadScenario({ scenario, run, label }: StageContext): Promise<void> {
  await controlStorage.uploadText.executeWithOptions({ summary: `upload ${label}'s config/scenario.yaml` }, [{ artifactUri: run.artifactUri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) }]);
}

/** Registers trained weights as a new version of the scenario's model, alias candidate. */
export function registerTrained(scenario: Scenario, runId: string, source: string): Promise<RegisteredModelRef> {
  return tracking.registerModel.executeWithOptions({ summary: `register ${registeredModelName(scenario)} @candidate from run ${runId}` }, [{
    name: registeredModelName(scenario),
    runId,
    source,
    alias: Alias.candidate,
    tags: { 'exp.type': scenario.type, 'data.version': scenario.dataset.version },
  }]);
}

async function recordStoppedEarly({ scenario, run, progress }: StageContext, stop: StopDecision, trainSeconds: number): Promise<TrainStageResult> {
  const gpuSecondsSaved = (trainSeconds / stop.epoch) * (scenario.training!.epochs - stop.epoch);
  const metrics = { ...progress.training?.metrics, 'train.epochs_completed': stop.epoch, 'sweep.gpu_seconds_saved': gpuSecondsSaved };
  await tracking.logBatch({
    runId: run.runId,
    metrics,
    step: stop.epoch,
    tags: { 'sweep.stopped_early': 'true', 'sweep.stopped_at_epoch': String(stop.epoch), 'sweep.stop_median': String(stop.median) },
  });
  return { metrics, stoppedEarly: { ...stop, gpuSecondsSaved } };
}
