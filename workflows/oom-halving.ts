import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';

/** What a job needs to be retried at a smaller batch after an out-of-memory failure. */
export interface HalvingResult<R> {
  result: R;
  batchSize: number;
  oomRetries: number;
}

/** True when an activity failed because the GPU ran out of memory. */
export function isOutOfMemory(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.OutOfMemory;
}

/**
 * Runs `job` at `batchSize`, halving it after each `OutOfMemory` failure down to `floor`
 * (docs/architecture.md §8). A half below the floor is tried at the floor itself (48 with floor
 * 16: 48, 24, 16), so the floor is always the last try. Ultralytics' own halving covers only
 * the first epoch on one GPU; this covers every epoch and restart, and the caller records what it took.
 */
export async function withOomHalving<R>(
  job: (batchSize: number) => Promise<R>,
  batchSize: number,
  floor: number,
  onRetry?: (next: number, retries: number) => void,
): Promise<HalvingResult<R>> {
  for (let size = batchSize, oomRetries = 0; ; oomRetries++) {
    try {
      return { result: await job(size), batchSize: size, oomRetries };
    } catch (err) {
      if (!isOutOfMemory(err) || size <= floor) throw err;
      size = Math.max(Math.floor(size / 2), floor);
      onRetry?.(size, oomRetries + 1);
    }
  }
}
