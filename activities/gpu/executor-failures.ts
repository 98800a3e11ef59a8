import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import type { ExecutorExit } from './executor-process';

/**
 * Out-of-memory texts (docs/architecture.md §10), for executors that die before they can say so:
 * CUDA/PyTorch GPU memory, and Python's own `MemoryError` (host RAM, numpy's `_ArrayMemoryError`
 * included), which a smaller batch relieves as well; retrying the same job would fail the same way.
 */
const OOM_PATTERNS = [
  /torch\.(cuda\.)?OutOfMemoryError/,
  /CUDA out of memory/i,
  /CUBLAS_STATUS_ALLOC_FAILED/,
  /CUDA error: out of memory/i,
  /HIP out of memory/i,
  /(^|[\s.:])_?(Array)?MemoryError\b/m,
];

/** True when a message or traceback is an out-of-memory error (GPU or host). */
export function isOutOfMemoryText(text: string): boolean {
  return OOM_PATTERNS.some((pattern) => pattern.test(text));
}

const KIND_TO_FAILURE: Record<string, { type: FailureType; nonRetryable: boolean }> = {
  oom: { type: FailureType.OutOfMemory, nonRetryable: true },
  data: { type: FailureType.InvalidDataset, nonRetryable: true },
  config: { type: FailureType.InvalidScenario, nonRetryable: true },
  unsupported: { type: FailureType.UnsupportedBackend, nonRetryable: true },
  internal: { type: FailureType.ExecutorCrashed, nonRetryable: false },
};

/**
 * The one place where an executor's end becomes a typed failure. OOM and bad input are
 * non-retryable for the activity (the workflow reacts to OOM by name); crashes are retried.
 */
export function executorFailure(exit: ExecutorExit): ApplicationFailure {
  if (exit.error) {
    const known = KIND_TO_FAILURE[exit.error.kind] ?? KIND_TO_FAILURE.internal;
    const oom = known.type === FailureType.ExecutorCrashed && isOutOfMemoryText(exit.error.message);
    const { type, nonRetryable } = oom ? KIND_TO_FAILURE.oom : known;
    return ApplicationFailure.create({ message: exit.error.message, type, nonRetryable, details: [{ kind: exit.error.kind }] });
  }
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  if (isOutOfMemoryText(exit.stderrTail)) {
    return ApplicationFailure.create({ message: `executor ${how}: out of memory`, type: FailureType.OutOfMemory, nonRetryable: true });
  }
  const lastLines = exit.stderrTail.split('\n').slice(-8).join('\n');
  return ApplicationFailure.create({ message: `executor ${how} without reporting an error\n${lastLines}`, type: FailureType.ExecutorCrashed, nonRetryable: false });
}
