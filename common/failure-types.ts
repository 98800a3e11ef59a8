/**
 * Stable `ApplicationFailure` type strings. Activities decide them (activities/gpu/executor-failures.ts,
 * activities/tracking/failures.ts); workflows handle them by name. Pure: workflows import it.
 * Executors name their errors by kind; common/executor-protocol.json maps each kind to one of these.
 */
export const FailureType = {
  OutOfMemory: 'OutOfMemory',
  InvalidDataset: 'InvalidDataset',
  /** A weights file that does not load, or detects other classes than the task's: refused before any GPU time. */
  InvalidModel: 'InvalidModel',
  InvalidScenario: 'InvalidScenario',
  /** An optimizer policy file (optimizer.yaml) that is missing or fails its schema: the check starts nothing. */
  InvalidPolicy: 'InvalidPolicy',
  ExecutorCrashed: 'ExecutorCrashed',
  /** An executor line of the wrong shape or a result its job did not ask for (worker and executors of different versions). */
  ExecutorProtocolViolation: 'ExecutorProtocolViolation',
  /** An export the host cannot make (TensorRT without TensorRT or a CUDA GPU); refused before any work. */
  UnsupportedBackend: 'UnsupportedBackend',
  TrackingRejected: 'TrackingRejected',
  StorageRejected: 'StorageRejected',
  /** A promote without a candidate, a rollback without a rollback version, an unknown version. */
  RegistryMoveRefused: 'RegistryMoveRefused',
  /** The GPU host that holds a job's files took no upload within the wait: it is gone, and so are the files only it had. */
  HostLost: 'HostLost',
  /**
   * The job's host is being drained at once (`gflow host drain --now`): the job was stopped and goes
   * back to the pool, where the retry resumes it on another host (a training from its last uploaded
   * checkpoint). Retryable, and not the job's fault.
   */
  HostDraining: 'HostDraining',
  /** A sweep with `fail_fast` stopped because one of its trials failed. */
  TrialFailed: 'TrialFailed',
  /** A wrapped legacy script that cannot run as its experiments.yaml entry says (no folder, a script outside it, a placeholder without a value). */
  InvalidExperimentEntry: 'InvalidExperimentEntry',
  /** A wrapped legacy script exited non-zero; the message ends with its last stderr lines. */
  ScriptFailed: 'ScriptFailed',
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failures that a retry cannot fix; a workflow may still react to them (OOM halving). */
export const NON_RETRYABLE_FAILURES: FailureType[] = [
  FailureType.OutOfMemory,
  FailureType.InvalidDataset,
  FailureType.InvalidModel,
  FailureType.InvalidScenario,
  FailureType.InvalidPolicy,
  FailureType.ExecutorProtocolViolation,
  FailureType.UnsupportedBackend,
  FailureType.TrackingRejected,
  FailureType.StorageRejected,
  FailureType.RegistryMoveRefused,
  FailureType.TrialFailed,
  FailureType.InvalidExperimentEntry,
  FailureType.ScriptFailed,
];
