import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { createGpuActivities } from '../activities/gpu/activities';
import type { createLegacyActivities } from '../activities/legacy/activities';
import { batchProgressQuery, gpuPoolQueue, SearchAttr, WorkflowType } from '../common/contract';
import { HOST_WORKFLOW_TYPE, hostQuery, type HostRecord } from '../common/hosts';
import { hostOf, timestampMs } from './gpu-jobs';
import { DEFAULT_PRIORITY, poolView, type PoolJob, type PoolPoller, type PoolView, type SweepHold } from './pool-view';

/** The activities that are GPU jobs (they run on the pool's queue and hold a slot). */
const GPU_JOB_ACTIVITIES: ReadonlySet<string> = new Set<keyof ReturnType<typeof createGpuActivities> | keyof ReturnType<typeof createLegacyActivities>>(['train', 'benchmark', 'exportModel', 'runLegacyScript']);
const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;
const CONCURRENCY = 16;

/** Runs `fn` over `items`, CONCURRENCY at a time. */
async function mapLimited<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += CONCURRENCY) out.push(...(await Promise.all(items.slice(i, i + CONCURRENCY).map(fn))));
  return out;
}

const iso = (ts: Parameters<typeof timestampMs>[0]) => new Date(timestampMs(ts)).toISOString();

/** The hosts' records of a pool (their `gpuHost` workflows) by host id; a record that does not answer is left out (its poller still shows). */
export async function hostRecords(client: Client, pool: string): Promise<HostRecord[]> {
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowType = '${HOST_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'` })) ids.push(w.workflowId);
  const records = await mapLimited(ids, (id) => client.workflow.getHandle(id).query(hostQuery).catch(() => undefined));
  return records.filter((r): r is HostRecord => r !== undefined && r.pool === pool).sort((a, b) => a.hostId.localeCompare(b.hostId));
}

/** Temporal's description of the pool's queue: who polls it, and its backlog when the server counts it. */
async function describePoolQueue(client: Client, queue: string): Promise<{ pollers: PoolPoller[]; backlog?: PoolView['backlog'] }> {
  const described = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportStats: true,
  });
  const pollers = (described.pollers ?? []).map((p) => ({ identity: p.identity ?? '', host: hostOf(p.identity ?? ''), lastAccess: p.lastAccessTime ? iso(p.lastAccessTime) : undefined }));
  const stats = described.stats;
  if (!stats) return { pollers };
  const byPriority = Object.fromEntries(Object.entries(described.statsByPriorityKey ?? {}).map(([key, s]) => [key, Number(String(s.approximateBacklogCount ?? 0))]));
  return {
    pollers,
    backlog: {
      tasks: Number(String(stats.approximateBacklogCount ?? 0)),
      ageSeconds: Number(String(stats.approximateBacklogAge?.seconds ?? 0)),
      ...(Object.keys(byPriority).length > 0 ? { byPriority } : {}),
    },
  };
}

/** The GPU jobs of one running workflow on `queue` (its pending activities), and what its sweep holds back. */
async function workflowJobs(client: Client, workflowId: string, queue: string): Promise<{ jobs: PoolJob[]; held?: SweepHold }> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe().catch(() => undefined);
  if (!description) return { jobs: [] };
  const info = description.raw.workflowExecutionInfo;
  const site = description.typedSearchAttributes.get(SearchAttr.site);
  const base = {
    workflowId,
    rootWorkflowId: info?.rootExecution?.workflowId || workflowId,
    workflowType: description.type,
    ...(site ? { site } : {}),
  };
  const jobs: PoolJob[] = [];
  for (const p of description.raw.pendingActivities ?? []) {
    const activity = p.activityType?.name ?? '';
    // a server that reports the activity's queue (1.27+) tells the pools apart
    if (!GPU_JOB_ACTIVITIES.has(activity) || (p.activityOptions?.taskQueue?.name && p.activityOptions.taskQueue.name !== queue)) continue;
    const priority = p.priority ?? info?.priority;
    const running = p.state === PENDING_ACTIVITY_STATE_STARTED;
    const lastFailure = p.lastFailure ? `${p.lastFailure.applicationFailureInfo?.type ?? 'failure'}: ${p.lastFailure.message ?? ''}` : undefined;
    jobs.push({
      ...base,
      activity,
      attempt: p.attempt ?? 1,
      priority: priority?.priorityKey || DEFAULT_PRIORITY,
      ...(priority?.fairnessKey ? { fairnessKey: priority.fairnessKey } : {}),
      state: running ? 'running' : 'waiting',
      ...(running ? { identity: p.lastWorkerIdentity ?? '', host: hostOf(p.lastWorkerIdentity ?? '') } : {}),
      since: iso(running ? p.lastStartedTime : (p.lastAttemptCompleteTime ?? p.scheduledTime)),
      ...(lastFailure && !running ? { lastFailure } : {}),
    });
  }
  if (description.type !== WorkflowType.sweep) return { jobs };
  const progress = await handle.query(batchProgressQuery).catch(() => undefined);
  return { jobs, held: progress ? { workflowId, ...(site ? { site } : {}), queued: progress.queued ?? 0, running: progress.running } : undefined };
}

/** Reads the pool from Temporal: host records, the queue's description, and every running workflow's GPU jobs. */
export async function readPool(client: Client, pool: string, now = Date.now()): Promise<PoolView> {
  const queue = gpuPoolQueue(pool);
  const ids: string[] = [];
  for await (const w of client.workflow.list({ query: `ExecutionStatus = 'Running' AND WorkflowType != '${HOST_WORKFLOW_TYPE}'` })) ids.push(w.workflowId);
  const [records, described, perWorkflow] = await Promise.all([hostRecords(client, pool), describePoolQueue(client, queue), mapLimited(ids, (id) => workflowJobs(client, id, queue))]);
  return poolView({
    pool,
    queue,
    now,
    records,
    pollers: described.pollers,
    jobs: perWorkflow.flatMap((w) => w.jobs),
    held: perWorkflow.flatMap((w) => (w.held ? [w.held] : [])),
    backlog: described.backlog,
  });
}
