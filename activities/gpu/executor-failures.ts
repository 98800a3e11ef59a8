import { ApplicationFailure } from '@temporalio/common';
import { FailureType, NON_RETRYABLE_FAILURES } from '../../common/failure-types';
import { lastLines, plainText } from '../../common/plain-text';
import type { ExecutorExit } from './executor-process';
import { SharedProtocol } from './protocol';

/**
 * Out-of-memory texts (docs/architecture.md §10), for executors that die before they can say so:
 * CUDA/PyTorch GPU memory, and Python's own `MemoryError` (host RAM, numpy's `_ArrayMemoryError`
 * included), which a smaller batch relieves as well; retrying the same job would fail the same way.
 * The patterns are common/executor-protocol.json's, which `classify` in gf_protocol.py uses too.
 */
const OOM_PATTERNS = SharedProtocol.oom_patterns.map((pattern) => new RegExp(pattern, 'im'));

/** True when a message or traceback is an out-of-memory error (GPU or host). */
export function isOutOfMemoryText(text: string): boolean {
  return OOM_PATTERNS.some((pattern) => pattern.test(text));
}

/** A failure of this type; whether a retry may fix it is `NON_RETRYABLE_FAILURES`' call. */
function failure(type: FailureType, message: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: NON_RETRYABLE_FAILURES.includes(type), details });
}

/**
 * An executor that broke the protocol (an event of the wrong shape, a result its job did not ask
 * for): a worker and executors of different versions, which a retry on the same host repeats.
 */
export function protocolViolation(message: string): ApplicationFailure {
  return failure(FailureType.ExecutorProtocolViolation, message);
}

/** How much of a silent executor's stderr a failure message keeps: the end of a traceback. */
const STDERR_LINES = 8;

/**
 * The one place where an executor's end becomes a typed failure. An error event's kind names the
 * type (common/executor-protocol.json); OOM and bad input are non-retryable for the activity (the
 * workflow reacts to OOM by name); crashes are retried. Messages are plain text (ultralytics
 * colours what it prints).
 */
export function executorFailure(exit: ExecutorExit): ApplicationFailure {
  if (exit.violation) return protocolViolation(exit.violation);
  if (exit.error) {
    const known = SharedProtocol.error_kinds[exit.error.kind];
    const oom = known === FailureType.ExecutorCrashed && isOutOfMemoryText(exit.error.message);
    return failure(oom ? FailureType.OutOfMemory : known, plainText(exit.error.message), [{ kind: exit.error.kind }]);
  }
  const how = exit.signal ? `killed by ${exit.signal}` : `exited with code ${exit.code}`;
  if (isOutOfMemoryText(exit.stderrTail)) return failure(FailureType.OutOfMemory, `executor ${how}: out of memory`);
  return failure(FailureType.ExecutorCrashed, `executor ${how} without reporting an error\n${lastLines(exit.stderrTail, STDERR_LINES)}`);
}
