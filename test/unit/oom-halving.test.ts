import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { isOutOfMemory, withOomHalving } from '../../workflows/oom-halving';

/** The failure a workflow sees when the GPU activity ran out of memory. */
const activityFailure = (type: string) =>
  new ActivityFailure('activity failed', 'train', '1', RetryState.NON_RETRYABLE_FAILURE, 'gpu-worker', ApplicationFailure.create({ message: 'CUDA out of memory', type, nonRetryable: true }));

/** A job that runs out of memory above `fits`, recording every batch size it was tried at. */
function jobFitting(fits: number) {
  const tried: number[] = [];
  const job = (batchSize: number) => {
    tried.push(batchSize);
    return batchSize > fits ? Promise.reject(activityFailure(FailureType.OutOfMemory)) : Promise.resolve(`trained at ${batchSize}`);
  };
  return { tried, job };
}

describe('OOM halving', () => {
  it('tries the floor itself when a half would fall below it (issue 16 #4)', async () => {
    const a = jobFitting(16);
    await expect(withOomHalving(a.job, 48, 16)).resolves.toEqual({ result: 'trained at 16', batchSize: 16, oomRetries: 2 });
    expect(a.tried).toEqual([48, 24, 16]);

    const b = jobFitting(8);
    const retries: [number, number][] = [];
    await expect(withOomHalving(b.job, 100, 8, (next, n) => retries.push([next, n]))).resolves.toEqual({ result: 'trained at 8', batchSize: 8, oomRetries: 4 });
    expect(b.tried).toEqual([100, 50, 25, 12, 8]);
    expect(retries).toEqual([[50, 1], [25, 2], [12, 3], [8, 4]]);
  });

  it('fails with the OutOfMemory failure once the floor itself ran out of memory', async () => {
    const c = jobFitting(4);
    const err = await withOomHalving(c.job, 48, 16).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActivityFailure);
    expect(((err as ActivityFailure).cause as ApplicationFailure).type).toBe(FailureType.OutOfMemory);
    expect(c.tried).toEqual([48, 24, 16]);

    const d = jobFitting(1);
    await expect(withOomHalving(d.job, 16, 16)).rejects.toBeInstanceOf(ActivityFailure);
    expect(d.tried).toEqual([16]);
  });

  it('halves exactly while halves stay above the floor, and stops at 1', async () => {
    const e = jobFitting(1);
    await expect(withOomHalving(e.job, 64, 1)).resolves.toMatchObject({ batchSize: 1, oomRetries: 6 });
    expect(e.tried).toEqual([64, 32, 16, 8, 4, 2, 1]);
  });

  it('only an activity that failed with OutOfMemory is an out-of-memory failure', async () => {
    const rejectingWith = (err: Error) => {
      const tried: number[] = [];
      const job = (batchSize: number) => {
        tried.push(batchSize);
        return Promise.reject(err);
      };
      return { tried, job };
    };
    const bare = ApplicationFailure.create({ message: 'CUDA out of memory', type: FailureType.OutOfMemory, nonRetryable: true });
    const notApplication = new ActivityFailure('activity failed', 'train', '1', RetryState.NON_RETRYABLE_FAILURE, 'gpu-worker', new Error('CUDA out of memory'));
    for (const err of [bare, notApplication, new Error(FailureType.OutOfMemory)]) {
      const { tried, job } = rejectingWith(err);
      await expect(withOomHalving(job, 32, 1)).rejects.toBe(err);
      expect(tried).toEqual([32]);
    }
    expect([isOutOfMemory(activityFailure(FailureType.OutOfMemory)), isOutOfMemory(bare), isOutOfMemory(notApplication), isOutOfMemory(undefined)]).toEqual([true, false, false, false]);
  });

  it('a job that fits at once is run once, with no retries reported', async () => {
    const a = jobFitting(64);
    const retries: number[] = [];
    await expect(withOomHalving(a.job, 64, 8, (next) => retries.push(next))).resolves.toEqual({ result: 'trained at 64', batchSize: 64, oomRetries: 0 });
    expect([a.tried, retries]).toEqual([[64], []]);
  });

  it('does not retry other failures', async () => {
    const tried: number[] = [];
    const job = (batchSize: number) => {
      tried.push(batchSize);
      return Promise.reject(activityFailure(FailureType.InvalidDataset));
    };
    await expect(withOomHalving(job, 32, 1)).rejects.toBeInstanceOf(ActivityFailure);
    expect(tried).toEqual([32]);
  });
});
