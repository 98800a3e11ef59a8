import { existsSync } from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CHECKPOINT_ARTIFACT, reportsProgress, type SweepSlot, type TrainingProgress } from '../../common/contract';
import { FailureType } from '../../common/failure-types';
import type { QuantVariant, Scenario } from '../../scenarios/schema';
import type { ArtifactFile } from '../storage/activities';
import type { StepMetrics } from '../tracking/activities';
import { protocolViolation } from './executor-failures';
import { CheckpointUploader } from './checkpoint-upload';
import { onDevice, type DeviceSlots } from './devices';
import { runFolder, superviseJob, type JobDeps } from './executor-job';
import { MetricStream } from './metric-stream';
import { fetchModel, ModelReferenceError, type ModelSourceDeps } from './model-source';
import { isObjectStoreDataset } from '../../scenarios/dataset-uri';
import { InvalidDatasetError } from '../storage/dataset-manifest';
import { DatasetContext, type UsedDataset } from '../tracking/dataset-input';
import { asTrackingActivity } from '../tracking/failures';
import type { CachedDataset, DatasetCache } from './dataset-cache';
import { isCheckpoint, isEpoch, ResultSchemas } from './protocol';

export interface GpuDeps extends JobDeps {
  /** Executor script per job kind; tests point `train` at a fault-injecting stand-in. */
  executors: { train: string; benchmark: string; export: string };
  /** The queue of this host, returned so the workflow uploads the files from the host that has them. */
  hostQueue: string;
  /** Resolves `runs:/` and `models:/` references and downloads them to this host. */
  models: ModelSourceDeps;
  /** Delivers epochs' metrics of one run to MLflow (`logSteps`); the MetricStream groups them. */
  logMetrics: (runId: string, steps: StepMetrics[]) => Promise<void>;
  reportProgress?: (workflowId: string, progress: TrainingProgress) => Promise<void>;
  /**
   * Hands a sweep trial's GPU slot on as its job ends (`sweepSlotRelay`: to the waiting trial the
   * sweep designated, else back to the sweep by `gpuReleased`), before the job's last metrics, its
   * checkpoint upload and its activity's completion: the next trial queues its job meanwhile.
   */
  releaseSweepSlot?: (slot: SweepSlot) => Promise<void>;
  /** Starts learning, while the job runs, whom `releaseSweepSlot` will hand the slot to; returns the stop. */
  watchSweepSlot?: (slot: SweepSlot) => () => void;
  /** This host's devices: each job gets one of its own (`CUDA_VISIBLE_DEVICES`). */
  devices: DeviceSlots;
  /** The host's id, recorded on each job's run with its device. */
  hostId: string;
  /** Tags on a run (`sys.gpu_index`, `sys.gpu_name`, `sys.host`): where its job ran. */
  tagRun: (runId: string, tags: Record<string, string>) => Promise<void>;
  /**
   * `s3://` datasets: this host's cache, and how a run records the one it read (`data.uri`,
   * `data.sha256`, MLflow's dataset input). Without it a job on an `s3://` dataset fails InvalidDataset.
   */
  datasets?: { cache: DatasetCache; record: (runId: string, dataset: UsedDataset, context: DatasetContext) => Promise<void> };
}

export interface TrainInput {
  runId: string;
  scenario: Scenario;
  /** Overrides `training.batch_size` (the workflow halves it after an OOM). */
  batchSize?: number;
  /** Set for a sweep trial: the job hands its sweep slot back as soon as its executor ends with a result. */
  sweepSlot?: SweepSlot;
}

/** What a GPU job leaves on its host: files to upload from there (`hostQueue`) and its figures. */
export interface HostFiles {
  hostQueue: string;
  files: ArtifactFile[];
}

export interface TrainResult extends HostFiles {
  epochsCompleted: number;
  batchSize: number;
  metrics: Record<string, number>;
  /** The epoch of the checkpoint in the run's S3 folder (CHECKPOINT_ARTIFACT), if one was uploaded. */
  uploadedCheckpointEpoch?: number;
  /** True when the job handed its sweep slot back itself (TrainInput.sweepSlot): the trial need not. */
  sweepSlotReleased?: boolean;
}

export interface BenchmarkInput {
  runId: string;
  scenario: Scenario;
  /** A local path on the GPU host, `runs:/<id>/<path>` or `models:/<name>@<alias>`. */
  model: string;
  /** Keeps the logs of several benchmarks in one run apart (`benchmark-orig`, `benchmark-quant`). */
  name?: string;
}

export interface BenchmarkResult extends HostFiles {
  metrics: Record<string, number>;
}

export interface ExportInput {
  runId: string;
  scenario: Scenario;
  /** The weights to export, as for `BenchmarkInput.model`. */
  weights: string;
  variants: QuantVariant[];
}

export interface ExportResult extends HostFiles {
  /** Each variant's model on this host (a file or an OpenVINO folder) and the files to upload for it. */
  exports: { variant: QuantVariant; localPath: string; sizeMb: number; files: ArtifactFile[] }[];
}

interface TrainHeartbeat {
  epoch: number;
  /** The latest checkpoint on the host that ran the attempt (`host`: its queue). */
  checkpoint?: string;
  host?: string;
  /** The epoch of the checkpoint in the run's S3 folder (CHECKPOINT_ARTIFACT): any host resumes from it. */
  uploadedEpoch?: number;
}

/** GPU activities: each supervises one Python executor process on this host's GPU slot. */
export function createGpuActivities(deps: GpuDeps) {
  const modelOnHost = async (ref: string, runDir: string) =>
    fetchModel(deps.models, ref, path.join(runDir, 'inputs')).catch((err: unknown) => {
      if (err instanceof ModelReferenceError) throw ApplicationFailure.create({ message: err.message, type: FailureType.InvalidScenario, nonRetryable: true, cause: err });
      throw err;
    });

  /**
   * Runs `job` with the scenario's dataset as a local data .yaml: a local path as it is, an `s3://`
   * one from this host's cache (downloaded and checked once per host and version, heartbeating
   * `beat` meanwhile), held until the job ends and recorded on the run.
   */
  const withDataset = async <T>(runId: string, dataPath: string, context: DatasetContext, beat: unknown, job: (localPath: string) => Promise<T>): Promise<T> => {
    if (!isObjectStoreDataset(dataPath)) return job(dataPath);
    const ctx = Context.current();
    if (!deps.datasets) throw ApplicationFailure.create({ message: `dataset.path ${dataPath}: this GPU worker has no dataset cache for s3:// datasets`, type: FailureType.InvalidDataset, nonRetryable: true });
    const timer = setInterval(() => ctx.heartbeat(beat), deps.heartbeatIntervalMs ?? 5000);
    let cached: CachedDataset;
    try {
      ctx.heartbeat(beat);
      cached = await deps.datasets.cache.materialise(dataPath, ctx.cancellationSignal);
    } catch (err) {
      if (err instanceof InvalidDatasetError) throw ApplicationFailure.create({ message: err.message, type: FailureType.InvalidDataset, nonRetryable: true, cause: err });
      throw err;
    } finally {
      clearInterval(timer);
    }
    try {
      const { manifest } = cached;
      const record = deps.datasets.record;
      await asTrackingActivity(() => record(runId, { uri: cached.uri, sha256: cached.sha256, name: manifest.name, version: manifest.version, files: cached.files, bytes: cached.bytes }, context));
      return await job(cached.dataYaml);
    } finally {
      await cached.release();
    }
  };

  /**
   * Where a retried training resumes: the previous attempt's checkpoint when it is on this host,
   * else the one it uploaded (the host died, the retry landed elsewhere), else the start.
   */
  const resumePoint = async (runId: string, runDir: string, previous: TrainHeartbeat | undefined): Promise<string | null> => {
    // another host's path may exist here too (a shared disk) but is not this host's to trust
    if (previous?.checkpoint && previous.host === deps.hostQueue && existsSync(previous.checkpoint)) return previous.checkpoint;
    if (previous?.uploadedEpoch === undefined) return null;
    return modelOnHost(`runs:/${runId}/${CHECKPOINT_ARTIFACT}`, path.join(runDir, 'resume'));
  };

  /**
   * Runs a job on a device of its own, held until the job ends, and records on the run where it
   * ran; the job gets the environment and scenario device that show it only that device.
   */
  const onOwnDevice = async <T>(runId: string, environment: Scenario['environment'], job: (placed: { env: NodeJS.ProcessEnv; environment: Scenario['environment'] }) => Promise<T>): Promise<T> => {
    const lease = deps.devices.acquire();
    try {
      const placed = onDevice(lease.device, environment.device);
      // recorded beside the job, not before it: a slow MLflow must not delay the job's first heartbeat
      const log = Context.current().log;
      void deps.tagRun(runId, { 'sys.gpu_index': lease.device.index, 'sys.gpu_name': lease.device.name, 'sys.host': deps.hostId }).catch((err: unknown) => {
        log.warn('could not record the job’s device on its run', { error: String(err) });
      });
      return await job({ env: placed.env, environment: { ...environment, device: placed.device } });
    } finally {
      lease.release();
    }
  };

  /**
   * A sweep slot goes back once the executor ended with a result, not on a failure: a failed job is
   * retried (or halved after an OOM) by the same trial, which still holds the slot. If this activity
   * fails after all (its last metrics cannot be logged) the retry runs beside the trial that took the
   * slot: at most one job over the sweep's `parallel`, never over the host's slots.
   */
  const handBackSweepSlot = async (slot: SweepSlot | undefined): Promise<boolean> => {
    if (!slot || !deps.releaseSweepSlot) return false;
    try {
      await deps.releaseSweepSlot(slot);
      return true;
    } catch (err) {
      // the trial sends the signal itself when it hears the job ended
      Context.current().log.warn('could not hand the sweep slot back early', { error: String(err) });
      return false;
    }
  };

  return {
    async train(input: TrainInput): Promise<TrainResult> {
      const ctx = Context.current();
      const training = input.scenario.training;
      if (!training) throw ApplicationFailure.create({ message: 'scenario has no training block', type: FailureType.InvalidScenario, nonRetryable: true });
      const runDir = await runFolder(deps.workDir, input.runId);
      const previous = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
      const resumeFrom = await resumePoint(input.runId, runDir, previous);
      const workflowId = ctx.info.workflowExecution?.workflowId;
      const stream = new MetricStream((steps) => deps.logMetrics(input.runId, steps));
      let slotReleased = Promise.resolve(false);
      let uploadedEpoch = previous?.uploadedEpoch;
      const checkpoints = new CheckpointUploader(
        deps.models,
        input.runId,
        (epoch) => {
          uploadedEpoch = epoch;
        },
        (message) => {
          ctx.log.warn(message);
        },
      );
      // `runs:/` and `models:/` weights come to this host like a benchmark's model; a resumed job starts from its checkpoint instead
      const { weights } = input.scenario.model;
      const startWeights = weights === null || resumeFrom ? null : await modelOnHost(weights, runDir);

      // whom the slot goes to when the executor ends, learnt while it runs
      const stopWatching = input.sweepSlot && deps.watchSweepSlot?.(input.sweepSlot);
      try {
        const { result, files } = await withDataset(input.runId, input.scenario.dataset.path, DatasetContext.training, previous ?? { epoch: 0 }, (dataPath) => onOwnDevice(input.runId, input.scenario.environment, ({ env, environment }) => superviseJob(deps, {
          runDir,
          env,
          executor: deps.executors.train,
          result: ResultSchemas.train,
          heartbeat: previous ?? { epoch: 0 },
          spec: {
            model: { ...input.scenario.model, weights: startWeights },
            dataset: { path: dataPath },
            classes: input.scenario.task.classes,
            training: { ...training, batch_size: input.batchSize ?? training.batch_size },
            augmentation: input.scenario.augmentation ?? {},
            environment,
            resume_from: resumeFrom,
            plots: training.plots,
          },
          onEvent: (event, beat) => {
            if (isCheckpoint(event)) {
              checkpoints.offer(event.path, event.epoch);
              return { ...beat, checkpoint: event.path, host: deps.hostQueue };
            }
            if (!isEpoch(event)) return undefined;
            stream.push({ step: event.epoch, metrics: event.metrics });
            // every epoch goes to MLflow; the workflow hears of a bounded few, each a history event
            if (workflowId && reportsProgress(event.epoch, event.epochs)) {
              void deps
                .reportProgress?.(workflowId, { epoch: event.epoch, epochs: event.epochs, metrics: event.metrics })
                .catch((err: unknown) => {
                  ctx.log.warn('progress report failed', { error: String(err) });
                });
            }
            return { ...beat, epoch: event.epoch };
          },
          current: (beat) => (uploadedEpoch === undefined ? beat : { ...beat, uploadedEpoch }),
        })
          .then((outcome) => {
            // sent beside the last metrics and the checkpoint upload, awaited before this job returns
            slotReleased = handBackSweepSlot(input.sweepSlot);
            return outcome;
          })
          .finally(() => checkpoints.flush())));
        await stream.close();
        const sweepSlotReleased = await slotReleased;
        return {
          hostQueue: deps.hostQueue,
          epochsCompleted: result.epochs_completed,
          batchSize: result.batch_size,
          metrics: result.metrics,
          files,
          uploadedCheckpointEpoch: uploadedEpoch,
          ...(sweepSlotReleased && { sweepSlotReleased }),
        };
      } finally {
        stopWatching?.();
      }
    },

    async benchmark(input: BenchmarkInput): Promise<BenchmarkResult> {
      const runDir = await runFolder(deps.workDir, input.runId);
      const modelPath = await modelOnHost(input.model, runDir);
      const { result, files } = await withDataset(input.runId, input.scenario.dataset.path, DatasetContext.evaluation, null, (dataPath) => onOwnDevice(input.runId, input.scenario.environment, ({ env, environment }) => superviseJob(deps, {
        runDir,
        env,
        executor: deps.executors.benchmark,
        result: ResultSchemas.benchmark,
        heartbeat: null,
        name: input.name ?? 'benchmark',
        spec: {
          model_path: modelPath,
          input_size: input.scenario.model.input_size,
          dataset: { path: dataPath },
          classes: input.scenario.task.classes,
          benchmark: input.scenario.benchmark ?? {},
          environment,
          tracking: input.scenario.benchmark?.tracking ?? null,
        },
      })));
      return { hostQueue: deps.hostQueue, metrics: result.metrics, files };
    },

    async exportModel(input: ExportInput): Promise<ExportResult> {
      const runDir = await runFolder(deps.workDir, input.runId);
      const weights = await modelOnHost(input.weights, runDir);
      const { result, files } = await withDataset(input.runId, input.scenario.dataset.path, DatasetContext.calibration, null, (dataPath) => onOwnDevice(input.runId, input.scenario.environment, ({ env, environment }) => superviseJob(deps, {
        runDir,
        env,
        executor: deps.executors.export,
        result: ResultSchemas.export,
        heartbeat: null,
        name: 'export',
        spec: {
          weights,
          input_size: input.scenario.model.input_size,
          dataset: { path: dataPath },
          classes: input.scenario.task.classes,
          variants: input.variants,
          calibration_size: input.scenario.quantization?.calibration_size ?? 300,
          environment,
        },
      })));
      const exports = result.exports.map((e) => {
        const variant = input.variants.find((v) => v.backend === e.backend && v.precision === e.precision);
        if (!variant) throw protocolViolation(`executor exported an unrequested variant ${e.backend}/${e.precision}`);
        const localPath = path.resolve(runDir, e.path);
        const own = files.filter((f) => f.localPath === localPath || f.localPath.startsWith(localPath + path.sep));
        return { variant, localPath, sizeMb: e.size_mb, files: own };
      });
      const shared = files.filter((f) => !exports.some((e) => e.files.includes(f)));
      return { hostQueue: deps.hostQueue, exports, files: shared };
    },
  };
}
