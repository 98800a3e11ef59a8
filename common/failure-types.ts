/**
 * Stable `ApplicationFailure` type strings. Activities decide them (activities/gpu/executor-failures.ts,
 * activities/tracking/failures.ts); workflows handle them by name. Pure: workflows import it.
 */
export const FailureType = {
  OutOfMemory: 'OutOfMemory',
  InvalidDataset: 'InvalidDataset',
  InvalidScenario: 'InvalidScenario',
  ExecutorCrashed: 'ExecutorCrashed',
  TrackingRejected: 'TrackingRejected',
  StorageRejected: 'StorageRejected',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that a retry cannot fix; a workflow may still react to them (OOM halving). */
export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.OutOfMemory,
  FailureType.InvalidDataset,
  FailureType.InvalidScenario,
  FailureType.TrackingRejected,
  FailureType.StorageRejected,
];
