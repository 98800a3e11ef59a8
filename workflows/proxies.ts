import { ActivityCancellationType, proxyActivities, type RetryPolicy } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { createFleetActivities } from '../activities/fleet/activities';
import type { createGpuActivities } from '../activities/gpu/activities';
import type { createRegistryActivities } from '../activities/registry/activities';
import type { createReportActivities } from '../activities/reports/activities';
import type { createSearchActivities } from '../activities/search/activities';
import type { createStorageActivities } from '../activities/storage/activities';
import type { createTrackingActivities } from '../activities/tracking/activities';
import { CONTROL_QUEUE, gpuPoolQueue } from '../common/contract';
import { NON_RETRYABLE_FAILURES } from '../common/failure-types';

type GpuActivities = ReturnType<typeof createGpuActivities>;
type StorageActivities = ReturnType<typeof createStorageActivities>;

const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: NON_RETRYABLE_FAILURES };

/** MLflow activities on the control queue; MLflow outages are retried with backoff. */
export const tracking = proxyActivities<ReturnType<typeof createTrackingActivities>>({
  taskQueue: CONTROL_QUEUE,
  startToCloseTimeout: '2m',
  retry: { ...retry, maximumAttempts: 10 },
});

export const registry = proxyActivities<ReturnType<typeof createRegistryActivities>>({
  taskQueue: CONTROL_QUEUE,
  startToCloseTimeout: '1m',
  retry: { ...retry, maximumAttempts: 20 },
});

/** Fleet reads on the control queue (the optimizer's checks, a soak's readings): whole-fleet reads, retried through outages. */
export const fleet = proxyActivities<ReturnType<typeof createFleetActivities>>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '5m', retry: { ...retry, maximumAttempts: 10 } });

/** Results tables and charts of sweeps and comparisons, built from MLflow by the control worker. */
export const reports = proxyActivities<ReturnType<typeof createReportActivities>>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '10m', retry: { ...retry, maximumAttempts: 5 } });

/** Suggestions of `tpe` sweeps (Optuna in a short Python process on the control host). */
export const search = proxyActivities<ReturnType<typeof createSearchActivities>>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '2m', retry: { ...retry, maximumAttempts: 5 } });

/** S3 uploads of content the workflow has (the scenario); host files go through `hostStorage`. */
export const controlStorage = proxyActivities<StorageActivities>({ taskQueue: CONTROL_QUEUE, startToCloseTimeout: '5m', retry: { ...retry, maximumAttempts: 10 } });

/**
 * How long an upload waits for its host's worker to take it. A live host takes its uploads within
 * seconds; past this the host is taken as gone (stages/host-upload.ts says what was lost with it)
 * instead of the workflow waiting forever.
 */
export const HOST_UPLOAD_WAIT: Duration = '10m';

/** Uploads of files a GPU job left on its host, run by that host's worker. */
export function hostStorage(hostQueue: string, wait: Duration = HOST_UPLOAD_WAIT) {
  return proxyActivities<StorageActivities>({ taskQueue: hostQueue, scheduleToStartTimeout: wait, startToCloseTimeout: '30m', retry: { ...retry, maximumAttempts: 10 } });
}

/**
 * GPU jobs on a pool's queue. No schedule-to-close limit (time queued for a busy GPU counts
 * there); a missed heartbeat means the host died, and the retry resumes on another slot.
 */
export function gpuJobs(pool: string, heartbeatTimeout: Duration = '2m') {
  return proxyActivities<GpuActivities>({
    taskQueue: gpuPoolQueue(pool),
    startToCloseTimeout: '72h',
    heartbeatTimeout,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...retry, maximumAttempts: 3 },
  });
}
