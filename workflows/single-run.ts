import { CancellationScope, condition, getExternalWorkflowHandle, isCancellation, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import {
  RunPhase,
  earlyStopThresholdsSignal,
  gpuHoldSignal,
  gpuPermitSignal,
  gpuReleasedSignal,
  gpuSuccessorQuery,
  gpuSuccessorSignal,
  type GpuSuccessor,
  progressQuery,
  trialEndedSignal,
  trainingProgressSignal,
  type EarlyStopThresholds,
  type RegisteredModelRef,
  type SingleRunProgress,
} from '../common/contract';
import { link, mlflowUrl, type UiLinks } from '../common/workflow-metadata';
import { experimentName, runName } from '../scenarios/naming';
import { tracking } from './proxies';
import { validScenario } from './valid-scenario';
import { endingRun, openRun } from './recorded-run';
import { benchmarkStage } from './stages/benchmark-stage';
import { quantizeStage, type VariantResult } from './stages/quantize-stage';
import { trainStage, type GpuSlot, type StopDecision, type TrainStageResult } from './stages/train-stage';
import { shouldStop, type EpochMetric } from './early-stopping';
import { markWorkflow } from './search-attributes';
import { trialFailure, type TrialOutcome } from './trial-outcome';

/** How a sweep or comparison runs one of its trials. */
export interface TrialOptions {
  runName: string;
  tags: Record<string, string>;
  params?: Record<string, string>;
  /** False for sweep trials: the sweep registers only its best trial. */
  register: boolean;
  /** The metric whose per-epoch values the result carries (the sweep's medians need them). */
  metric?: string;
  /** Set when the sweep applies the median-stopping rule; later medians arrive by signal. */
  earlyStopping?: EarlyStopThresholds;
  /**
   * Set by a sweep that prepares trials ahead: the trial opens its run and uploads its scenario
   * at once, starts its GPU job when `granted` (or on `gpuPermit`), and sends `gpuReleased`
   * with `index` as soon as the job ends, before its own bookkeeping.
   */
  gpuSlot?: { index: number; granted: boolean };
}

export interface SingleRunInput {
  /** The scenario as parsed from YAML (validated again here: plain `temporal workflow start` skips the CLI). */
  scenario: unknown;
  /** Nests this run under a pipeline's run. */
  parentRunId?: string;
  /** How long a GPU job may go without a heartbeat before it is retried elsewhere (default 2m). */
  gpuHeartbeatTimeout?: Duration;
  /** How long an upload from a GPU host waits for that host before it is taken as gone (default HOST_UPLOAD_WAIT, 10m). */
  hostUploadWait?: Duration;
  /** Set when this run is one trial of a sweep or comparison. */
  trial?: TrialOptions;
  /** The UIs the Web UI's details link to (from the starter's settings). */
  links?: UiLinks;
}

export interface SingleRunResult {
  experimentId: string;
  runId: string;
  runName: string;
  metrics: Record<string, number>;
  /** The registered version of a trained model. */
  model?: RegisteredModelRef;
  /** The exported variants of a quant scenario, each in its own nested run. */
  variants?: VariantResult[];
  /** Trained weights not registered yet (trials). */
  modelSource?: string;
  /** The trial metric at each epoch that reported progress (key: the 1-based epoch; at most MAX_PROGRESS_REPORTS). */
  history?: EpochMetric;
  stoppedEarly?: TrainStageResult['stoppedEarly'];
  /** An infer run's batch size to deploy with, in words (workflows/best-batch-size.ts). */
  batchSizeAnswer?: string;
}

/**
 * One train, infer or quant job recorded as an MLflow run (quant: plus one nested run per
 * variant) that always ends FINISHED, FAILED or KILLED.
 */
export async function singleRun(input: SingleRunInput): Promise<SingleRunResult> {
  const scenario = validScenario(input.scenario, 'single');
  const { trial } = input;
  const progress: SingleRunProgress = { phase: RunPhase.starting };
  const history: EpochMetric = {};
  const stopScope = new CancellationScope();
  let medians = trial?.earlyStopping;
  let stop: StopDecision | undefined;
  let gpuPermitted = trial?.gpuSlot?.granted ?? true;
  setHandler(progressQuery, () => progress);
  setHandler(gpuPermitSignal, () => void (gpuPermitted = true));
  // the trial its job hands the slot to (the sweep's newest designation), asked by the job as its executor ends
  let successor: GpuSuccessor = { index: null, seq: -1 };
  setHandler(gpuSuccessorSignal, (designation) => void (successor = newest(successor, designation)));
  setHandler(gpuSuccessorQuery, () => successor.index);
  // a paused sweep holds its waiting trials, whoever permits them
  let hold = { held: false, seq: -1 };
  setHandler(gpuHoldSignal, (update) => void (hold = newest(hold, update)));
  setHandler(earlyStopThresholdsSignal, (update) => {
    medians = update;
  });
  setHandler(trainingProgressSignal, (update) => {
    progress.training = update;
    const value = trial?.metric === undefined ? undefined : update.metrics[trial.metric];
    if (value !== undefined) history[update.epoch] = value;
    if (!stop && medians && shouldStop(medians, update.epoch, update.epochs, value)) {
      stop = { epoch: update.epoch, value: value!, median: medians.medians[update.epoch]! };
      stopScope.cancel();
    }
  });
  const work = async (): Promise<SingleRunResult> => {
    markWorkflow(scenario);

    const name = trial?.runName ?? runName(scenario);
    const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
    const run = await openRun({ scenario, experimentId, runName: name, trial: 'main', parentRunId: input.parentRunId, tags: trial?.tags, params: trial?.params });
    Object.assign(progress, { experimentId, runId: run.runId });
    // the run exists only now: static details were fixed at start, so the link to it lives here
    setCurrentDetails(`MLflow run: ${link(name, mlflowUrl(input.links, { experimentId, runId: run.runId }))}`);
    const ctx = { scenario, run, progress, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout, hostUploadWait: input.hostUploadWait, label: jobLabel(trial, name) };

    try {
      const result = await endingRun(run.runId, async (): Promise<SingleRunResult> => {
        const base = { experimentId, runId: run.runId, runName: name };
        if (scenario.type === 'train') {
          const gpuSlot = trial?.gpuSlot && sweepGpuSlot(trial.gpuSlot.index, () => gpuPermitted && !hold.held);
          const trained = await trainStage(ctx, { register: trial?.register ?? scenario.register, stopScope, stopDecision: () => stop, gpuSlot });
          return { ...base, ...trained, ...(trial?.metric !== undefined && { history }) };
        }
        if (scenario.type === 'infer') return { ...base, ...(await benchmarkStage(ctx, scenario.model.weights!)) };
        const quantized = await quantizeStage({ ...ctx, experimentId });
        return { ...base, metrics: quantized.orig, variants: quantized.variants };
      });
      progress.phase = RunPhase.finished;
      return result;
    } catch (err) {
      progress.phase = isCancellation(err) ? RunPhase.cancelled : RunPhase.failed;
      progress.error = err instanceof Error ? err.message : String(err);
      throw err;
    }
  };
  // a sweep trial tells its sweep how it ended: the sweep run that started it may have continued as new
  return trial?.gpuSlot ? reportingEnd(trial.gpuSlot.index, work) : work();
}

/** Of two messages a sweep numbered, the later one (signals may arrive out of order). */
const newest = <T extends { seq: number }>(current: T, update: T): T => (update.seq > current.seq ? update : current);

/** What this run is in its jobs' summaries: `trial 7` of a sweep, `arm yolov8s` of a comparison, else the run's name. */
function jobLabel(trial: TrialOptions | undefined, name: string): string {
  const index = trial?.tags['sweep.index'];
  if (index !== undefined) return `trial ${index}`;
  const arm = trial?.tags['comparison.value'];
  return arm !== undefined ? `arm ${arm}` : name;
}

/** The GPU slot a sweep lends its trial: wait for the permit, hand the slot back the moment the job ends. */
function sweepGpuSlot(index: number, permitted: () => boolean): GpuSlot {
  const sweepId = workflowInfo().parent?.workflowId;
  return {
    acquire: () => condition(permitted),
    held: sweepId === undefined ? undefined : { sweepId, index },
    release: () => {
      // not awaited: the trial's bookkeeping goes on; the sweep also frees the slot when the trial ends
      if (sweepId) void getExternalWorkflowHandle(sweepId).signal(gpuReleasedSignal, index).catch(() => undefined);
    },
  };
}

/** Runs a sweep trial and sends its outcome to the sweep, success or failure. */
async function reportingEnd(index: number, work: () => Promise<SingleRunResult>): Promise<SingleRunResult> {
  const sweepId = workflowInfo().parent?.workflowId;
  const report = (outcome: TrialOutcome) =>
    sweepId ? CancellationScope.nonCancellable(() => getExternalWorkflowHandle(sweepId).signal(trialEndedSignal, { index, outcome })).catch(() => undefined) : Promise.resolve();
  try {
    const result = await work();
    await report({ result });
    return result;
  } catch (err) {
    await report({ failure: trialFailure(err) });
    throw err;
  }
}
