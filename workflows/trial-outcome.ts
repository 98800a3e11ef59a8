import { isCancellation } from '@temporalio/workflow';
import type { SingleRunResult } from './single-run';

/** How a trial failed, as its sweep counts it: a cancellation is not a failure. */
export interface TrialFailure {
  cancelled: boolean;
  /** The innermost message of the failure chain: the one that says what went wrong. */
  message: string;
}

/** A trial's end, from its result or its `trialEnded` signal. */
export type TrialOutcome = { result: SingleRunResult } | { failure: TrialFailure };

export function trialFailure(err: unknown): TrialFailure {
  return { cancelled: isCancellation(err), message: rootMessage(err) };
}

/** The innermost message of a child → activity → application failure chain. */
function rootMessage(err: unknown): string {
  let current = err;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
