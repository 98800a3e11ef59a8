import type { ExecutorEvent } from './executor-process';

/** The executor events the train activity acts on (docs/architecture.md §7). */
export interface EpochEvent extends ExecutorEvent {
  event: 'epoch';
  epoch: number;
  epochs: number;
  metrics: Record<string, number>;
}
export interface CheckpointEvent extends ExecutorEvent {
  event: 'checkpoint';
  path: string;
  epoch: number;
}
export interface ArtifactEvent extends ExecutorEvent {
  event: 'artifact';
  path: string;
  kind: 'weights' | 'table' | 'plot' | 'log' | 'export';
}
export interface TrainResultEvent extends ExecutorEvent {
  event: 'result';
  epochs_completed: number;
  batch_size: number;
  metrics: Record<string, number>;
}
export interface BenchmarkResultEvent extends ExecutorEvent {
  event: 'result';
  metrics: Record<string, number>;
}
export interface ExportedModel {
  backend: string;
  precision: string;
  path: string;
  size_mb: number;
}
export interface ExportResultEvent extends ExecutorEvent {
  event: 'result';
  exports: ExportedModel[];
}

export const isEpoch = (e: ExecutorEvent): e is EpochEvent => e.event === 'epoch';
export const isCheckpoint = (e: ExecutorEvent): e is CheckpointEvent => e.event === 'checkpoint';
export const isArtifact = (e: ExecutorEvent): e is ArtifactEvent => e.event === 'artifact';
