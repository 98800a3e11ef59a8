import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

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

export const WorkflowType = { singleRun: 'singleRun', pipeline: 'pipeline', registryMove: 'registryMove' } as const;
export type WorkflowType = (typeof WorkflowType)[keyof typeof WorkflowType];

export const RunPhase = {
  starting: 'starting',
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

/** Epoch-level progress that a GPU activity reports to its workflow. */
export interface TrainingProgress {
  epoch: number;
  epochs: number;
  metrics: Record<string, number>;
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

export const SearchAttr = {
  site: defineSearchAttributeKey('GfSite', SearchAttributeType.KEYWORD),
  task: defineSearchAttributeKey('GfTask', SearchAttributeType.KEYWORD),
  design: defineSearchAttributeKey('GfDesign', SearchAttributeType.KEYWORD),
  type: defineSearchAttributeKey('GfType', SearchAttributeType.KEYWORD),
} as const;

/** Name → type of the custom search attributes, for registering them on a server. */
export const SEARCH_ATTRIBUTE_NAMES = Object.values(SearchAttr).map((key) => key.name);
