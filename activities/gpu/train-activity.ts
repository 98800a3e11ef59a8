import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TrainingProgress } from '../../common/contract';
import { FailureType } from '../../common/failure-types';
import type { Scenario } from '../../scenarios/schema';
import type { ArtifactFile } from '../storage/activities';
import type { LogBatchInput } from '../tracking/activities';
import { executorFailure } from './executor-failures';
import { runExecutor, type ExecutorEvent } from './executor-process';
import { MetricStream } from './metric-stream';
import { isArtifact, isCheckpoint, isEpoch, isResult, type ArtifactEvent, type ResultEvent } from './protocol';

export interface GpuDeps {
  python: string;
  /** Executor script per job kind; tests point `train` at a fault-injecting stand-in. */
  executors: { train: string };
  /** Each run works in `{workDir}/{runId}`; uploads are only allowed from inside it. */
  workDir: string;
  yoloConfigDir: string;
  /** The queue of this host, returned so the workflow uploads the files from the host that has them. */
  hostQueue: string;
  logMetrics: (input: LogBatchInput) => Promise<void>;
  reportProgress?: (workflowId: string, progress: TrainingProgress) => Promise<void>;
  heartbeatIntervalMs?: number;
  /** Extra environment for executors (device masks, fault injection in tests). */
  env?: NodeJS.ProcessEnv;
}

export interface TrainInput {
  runId: string;
  scenario: Scenario;
  /** Overrides `training.batch_size` (the workflow halves it after an OOM). */
  batchSize?: number;
}

export interface TrainResult {
  hostQueue: string;
  epochsCompleted: number;
  batchSize: number;
  metrics: Record<string, number>;
  files: ArtifactFile[];
}

interface TrainHeartbeat {
  epoch: number;
  checkpoint?: string;
}

const ARTIFACT_FOLDER: Record<ArtifactEvent['kind'], string> = {
  weights: 'weights',
  table: '',
  plot: 'plots',
  log: 'logs',
  export: 'exports',
};

/** GPU activities: each supervises one Python executor process on this host's GPU slot. */
export function createGpuActivities(deps: GpuDeps) {
  return {
    async train(input: TrainInput): Promise<TrainResult> {
      const ctx = Context.current();
      const training = input.scenario.training;
      if (!training) throw ApplicationFailure.create({ message: 'scenario has no training block', type: FailureType.InvalidScenario, nonRetryable: true });
      const runDir = await runFolder(deps.workDir, input.runId);
      const previous = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
      const resumeFrom = previous?.checkpoint && existsSync(previous.checkpoint) ? previous.checkpoint : null;
      const batchSize = input.batchSize ?? training.batch_size;
      const workflowId = ctx.info.workflowExecution?.workflowId;

      let beat: TrainHeartbeat = previous ?? { epoch: 0 };
      const heartbeat = () => ctx.heartbeat(beat);
      const timer = setInterval(heartbeat, deps.heartbeatIntervalMs ?? 5000);
      const stream = new MetricStream(deps.logMetrics);
      const artifacts: ArtifactEvent[] = [];
      let result: ResultEvent | undefined;

      const onEvent = (event: ExecutorEvent) => {
        if (isEpoch(event)) {
          beat = { ...beat, epoch: event.epoch };
          stream.push({ runId: input.runId, metrics: event.metrics, step: event.epoch });
          if (workflowId) {
            void deps
              .reportProgress?.(workflowId, { epoch: event.epoch, epochs: event.epochs, metrics: event.metrics })
              .catch((err: unknown) => {
                ctx.log.warn('progress report failed', { error: String(err) });
              });
          }
        } else if (isCheckpoint(event)) {
          beat = { ...beat, checkpoint: event.path };
        } else if (isArtifact(event)) {
          artifacts.push(event);
        } else if (isResult(event)) {
          result = event;
        }
        heartbeat();
      };

      try {
        heartbeat();
        const exit = await runExecutor({
          command: deps.python,
          args: [deps.executors.train],
          spec: {
            run_dir: runDir,
            model: input.scenario.model,
            dataset: { path: input.scenario.dataset.path },
            classes: input.scenario.task.classes,
            training: { ...training, batch_size: batchSize },
            environment: input.scenario.environment,
            resume_from: resumeFrom,
            yolo_config_dir: deps.yoloConfigDir,
            plots: training.plots,
          },
          env: { ...process.env, ...deps.env, YOLO_CONFIG_DIR: deps.yoloConfigDir, PYTHONUNBUFFERED: '1' },
          cwd: runDir,
          logFile: path.join(runDir, 'executor.log'),
          pidFile: path.join(runDir, 'executor.pid'),
          signal: ctx.cancellationSignal,
          onEvent,
        });
        if (exit.cancelled) throw new CancelledFailure(`training cancelled; executor process group ${exit.pid} killed`);
        if (exit.code !== 0 || !result) throw executorFailure(exit);
        await stream.close();
        return {
          hostQueue: deps.hostQueue,
          epochsCompleted: result.epochs_completed,
          batchSize: result.batch_size,
          metrics: result.metrics,
          files: [...artifacts.map((a) => artifactFile(runDir, a)), { localPath: path.join(runDir, 'executor.log'), artifactPath: 'logs/executor.log' }],
        };
      } finally {
        clearInterval(timer);
      }
    },
  };
}

/** `{workDir}/{runId}`; the run id is checked so the folder cannot leave the work root. */
async function runFolder(workDir: string, runId: string): Promise<string> {
  if (!/^[0-9a-f]{8,64}$/.test(runId)) {
    throw ApplicationFailure.create({ message: `not an MLflow run id: ${runId}`, type: FailureType.InvalidScenario, nonRetryable: true });
  }
  const dir = path.join(workDir, runId);
  await mkdir(dir, { recursive: true });
  return dir;
}

function artifactFile(runDir: string, artifact: ArtifactEvent): ArtifactFile {
  const folder = ARTIFACT_FOLDER[artifact.kind] ?? 'other';
  const name = path.basename(artifact.path);
  return { localPath: path.resolve(runDir, artifact.path), artifactPath: folder ? `${folder}/${name}` : name };
}
