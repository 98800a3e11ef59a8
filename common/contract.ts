import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { TrialOutcome } from '../workflows/trial-outcome';

/**
 * What workflows, workers and the CLI agree on: task queues, queries, signals and search
 * attributes. Pure (no Node built-ins): the workflow bundle imports it.
 */

/** Workflows and tracking/storage activities. */
export const CONTROL_QUEUE = 'guardianflow';

/** GPU jobs of a pool: any free slot of any host of the pool takes the next one. */
export function gpuPoolQueue(pool: string): string {
  return `guardianflow-gpu-${pool}`;
}

/** Follow-up work that needs one host's files (uploading the weights a job wrote there). */
export function gpuHostQueue(pool: string, hostId: string): string {
  return `guardianflow-gpu-${pool}@${hostId}`;
}

export const WorkflowType = {
  singleRun: 'singleRun',
  pipeline: 'pipeline',
  sweep: 'sweep',
  comparison: 'comparison',
  registryMove: 'registryMove',
  optimizer: 'optimizer',
  optimizerAction: 'optimizerAction',
  guardedPromotion: 'guardedPromotion',
  legacyRun: 'legacyRun',
} as const;
export type WorkflowType = (typeof WorkflowType)[keyof typeof WorkflowType];

export const RunPhase = {
  starting: 'starting',
  /** A sweep trial prepared ahead (run open, scenario uploaded), waiting for one of the sweep's GPU slots. */
  waitingForGpu: 'waiting_for_gpu',
  training: 'training',
  benchmarking: 'benchmarking',
  quantizing: 'quantizing',
  recording: 'recording',
  registering: 'registering',
  promoting: 'promoting',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type RunPhase = (typeof RunPhase)[keyof typeof RunPhase];

/** Where a training's latest checkpoint lives among its run's artifacts: a retry on any host resumes from it. */
export const CHECKPOINT_ARTIFACT = 'checkpoints/last.pt';

/** Epoch-level progress that a GPU activity reports to its workflow. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  metrics: Record<string, number>;
}

/** Most epochs of one training attempt that report progress: each report is an event in the run's history. */
export const MAX_PROGRESS_REPORTS = 50;

/**
 * Whether epoch `epoch` (1-based) of `epochs` reports progress: every epoch of a training up to
 * MAX_PROGRESS_REPORTS epochs, evenly spaced ones of a longer one, and always the last, so a
 * 1000-epoch training adds at most MAX_PROGRESS_REPORTS signals to its workflow's history.
 * The early-stopping rule compares trials at these epochs only.
 */
export function reportsProgress(epoch: number, epochs: number): boolean {
  const stride = Math.ceil(epochs / MAX_PROGRESS_REPORTS);
  return epoch % stride === 0 || epoch === epochs;
}

export interface RegisteredModelRef {
  name: string;
  version: string;
  alias: string;
}

/** The answer to the `progress` query of a single run. */
export interface SingleRunProgress {
  phase: RunPhase;
  experimentId?: string;
  runId?: string;
  training?: TrainingProgress;
  /** Set once an out-of-memory failure made the workflow halve the batch. */
  batchSize?: number;
  oomRetries?: number;
  model?: RegisteredModelRef;
  error?: string;
}

export const progressQuery = defineQuery<SingleRunProgress>('progress');

export const PipelinePhase = {
  starting: 'starting',
  training: 'training',
  quantizing: 'quantizing',
  promoting: 'promoting',
  /** The infer stage: each new champion benchmarked in its own run. */
  benchmarking: 'benchmarking',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type PipelinePhase = (typeof PipelinePhase)[keyof typeof PipelinePhase];

/** The answer to the `progress` query of a pipeline; its stages answer their own. */
export interface PipelineProgress {
  phase: PipelinePhase;
  experimentId?: string;
  runId?: string;
  trainRunId?: string;
  decisions?: { model: string; version: string; promote: boolean; reason: string }[];
  error?: string;
}

/** Same query name as single runs, so `temporal workflow query --name progress` works on any workflow. */
export const pipelineProgressQuery = defineQuery<PipelineProgress>('progress');
export const trainingProgressSignal = defineSignal<[TrainingProgress]>('trainingProgress');

export const BatchPhase = {
  starting: 'starting',
  running: 'running',
  paused: 'paused',
  summarizing: 'summarizing',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type BatchPhase = (typeof BatchPhase)[keyof typeof BatchPhase];

/** The best trial so far of a sweep or comparison, by its scenario's metric and goal. */
export interface BestTrial {
  index: number;
  runId: string;
  value: number;
  params: Record<string, string | number | boolean>;
}

/** The answer to the `progress` query of a sweep or comparison. */
export interface BatchProgress {
  phase: BatchPhase;
  experimentId?: string;
  runId?: string;
  metric: string;
  total: number;
  /** Trials whose GPU job runs (sweeps: at most `parallel`). */
  running: number;
  /** Trials prepared ahead, waiting for a GPU slot: a freed slot starts one at once. Sweeps only. */
  queued?: number;
  done: number;
  failed: number;
  /** Trials the early-stopping rule ended. */
  stopped: number;
  /** Trials cancelled (the sweep's cancel, fail_fast, or a cancel of the trial itself): not failures. Sweeps only. */
  cancelled?: number;
  best?: BestTrial;
  error?: string;
}

export const batchProgressQuery = defineQuery<BatchProgress>('progress');
/** Start no new trial; running ones finish. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Raises (never lowers below what has started) the trial count of a running random sweep; returns the new total. */
export const setMaxRunsUpdate = defineUpdate<number, [number]>('setMaxRuns');

/** The median of completed trials' metric per reported epoch (key: the 1-based epoch); absent until enough trials reached it. */
export interface EarlyStopThresholds {
  metric: string;
  goal: 'maximize' | 'minimize';
  graceEpochs: number;
  medians: Partial<Record<number, number>>;
}
/** A sweep tells its running trials the current medians whenever a trial completes. */
/** Sent by a sweep to a trial prepared ahead: its GPU job may start now. */
export const gpuPermitSignal = defineSignal('gpuPermit');
/** Sent by a sweep trial to its sweep (whichever run of it is current) when the trial ended, however it ended. */
export const trialEndedSignal = defineSignal<[{ index: number; outcome: TrialOutcome }]>('trialEnded');
/**
 * A sweep trial's GPU slot is free (its bookkeeping still to do): the slot goes to the next trial.
 * Sent by the trial's train job as its executor ends (SweepSlot), or by the trial when its job
 * ended without having sent it; the sweep frees a slot once, whichever signal comes first. The
 * second argument: the job already permitted that trial (its designated successor) to take the slot.
 */
export const gpuReleasedSignal = defineSignal<[number, number?]>('gpuReleased');
/**
 * The waiting trial a running trial's job hands its slot to when the job ends (the sweep's
 * designation; `index: null` withdraws it). `seq` grows with every designation of the sweep, so a
 * trial keeps the newest whatever order two designations arrive in.
 */
export const gpuSuccessorSignal = defineSignal<[GpuSuccessor]>('gpuSuccessor');
export interface GpuSuccessor {
  index: number | null;
  seq: number;
}
/**
 * Sent by a paused sweep to its waiting trials (`held: true`) and again when it resumes: a held
 * trial starts no GPU job, even with a permit from a job that read its designation before the pause.
 */
export const gpuHoldSignal = defineSignal<[{ held: boolean; seq: number }]>('gpuHold');
/** A sweep trial's designated successor (null: none): its train job asks while it runs and as its executor ends. */
export const gpuSuccessorQuery = defineQuery<number | null>('gpuSuccessor');
/** Trial `index` of sweep `sweepId`: its child workflow's id, whichever run of the sweep started it. */
export const sweepTrialId = (sweepId: string, index: number) => `${sweepId}/trial-${index}`;
/** The sweep slot a trial's train job holds, so the job can hand it back without waiting for its workflow. */
export interface SweepSlot {
  sweepId: string;
  index: number;
}

export const earlyStopThresholdsSignal = defineSignal<[EarlyStopThresholds]>('earlyStopThresholds');

export const SearchAttr = {
  site: defineSearchAttributeKey('GfSite', SearchAttributeType.KEYWORD),
  task: defineSearchAttributeKey('GfTask', SearchAttributeType.KEYWORD),
  design: defineSearchAttributeKey('GfDesign', SearchAttributeType.KEYWORD),
  type: defineSearchAttributeKey('GfType', SearchAttributeType.KEYWORD),
} as const;

/** The Temporal Schedule that starts one `optimizer` check per interval (`gflow optimize schedule`). */
export const OPTIMIZER_SCHEDULE_ID = 'gf-optimizer';

/** The MLflow experiment that holds one run per optimizer check, with its decisions. */
export const OPTIMIZER_EXPERIMENT = 'optimizer';

/** What an optimizer check is doing, for `temporal workflow query --name progress`. */
export interface OptimizerProgress {
  phase: 'deciding' | 'starting' | 'recording' | 'finished' | 'failed';
  checkRunId?: string;
  started: string[];
}
export const optimizerProgressQuery = defineQuery<OptimizerProgress>('progress');

/** Name → type of the custom search attributes, for registering them on a server. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SearchAttr).map((key) => key.name);

/** Where a guarded promotion stands; the last five are ends. */
export const PromotionPhase = {
  awaitingApproval: 'awaiting_approval',
  promoting: 'promoting',
  soaking: 'soaking',
  /** Passed the soak (or had none): the promotion is final. */
  promoted: 'promoted',
  /** Refused by the gate before anything moved. */
  refused: 'refused',
  rejected: 'rejected',
  approvalTimeout: 'approval_timeout',
  rolledBack: 'rolled_back',
  failed: 'failed',
} as const;
export type PromotionPhase = (typeof PromotionPhase)[keyof typeof PromotionPhase];

/** A person's answer to a promotion waiting for approval: who, and why (recorded as tags on the version). */
export interface PromotionVerdict {
  by: string;
  reason?: string;
}

/** The answer to the `progress` query of a guarded promotion. */
export interface PromotionProgress {
  phase: PromotionPhase;
  model: string;
  version: string;
  /** The gate's decision, in words. */
  gate: string;
  /** awaiting_approval: when it gives up (ISO time). */
  approvalDeadline?: string;
  verdict?: PromotionVerdict & { approved: boolean };
  /** soaking: when the promotion becomes final (ISO time). */
  soakUntil?: string;
  /** The latest soak reading of each watched metric (null: not measured yet). */
  soakSeen?: Record<string, number | null>;
  /** rolled_back / failed / refused: why. */
  reason?: string;
}
export const promotionProgressQuery = defineQuery<PromotionProgress>('progress');
/** `gflow approve`: refused unless the promotion is waiting for approval. */
export const approveUpdate = defineUpdate<PromotionProgress, [PromotionVerdict]>('approve');
/** `gflow reject`: refused unless the promotion is waiting for approval. */
export const rejectUpdate = defineUpdate<PromotionProgress, [PromotionVerdict]>('reject');

/** The MLflow experiment that holds one run per alias move of any registered model: `gflow history <model>`. */
export const REGISTRY_HISTORY_EXPERIMENT = 'registry-history';

/** Where a wrapped legacy script stands (`legacyRun`). */
export const LegacyPhase = {
  starting: 'starting',
  running: 'running',
  recording: 'recording',
  registering: 'registering',
  finished: 'finished',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type LegacyPhase = (typeof LegacyPhase)[keyof typeof LegacyPhase];

/** The answer to the `progress` query of a `legacyRun`; the script's last output lines are its activity's heartbeat details. */
export interface LegacyRunProgress {
  phase: LegacyPhase;
  /** The experiments.yaml entry and the script as run (set once it ran). */
  entry: string;
  script?: string;
  experimentId?: string;
  runId?: string;
  exitCode?: number | null;
  model?: RegisteredModelRef;
  error?: string;
}
export const legacyProgressQuery = defineQuery<LegacyRunProgress>('progress');
