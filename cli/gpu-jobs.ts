import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { JobOutcome, type JobSpan } from './slot-utilisation';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
/** A protobuf timestamp: its int64 seconds come as a Long from the client, or a string once serialised. */
type Timestamp = { seconds?: number | string | { toString(): string } | null; nanos?: number | null } | null | undefined;

/** A GPU job as its workflow's history records it: the worker identity (`{pid}@{host}`) of its last attempt, start and end. */
export interface GpuJob extends JobSpan {
  workflowId: string;
  activity: string;
  worker: string;
}

/** Epoch milliseconds of a protobuf timestamp (its seconds may be a Long). */
export function timestampMs(ts: Timestamp): number {
  if (!ts) throw new Error('timestamp missing');
  return Number(String(ts.seconds ?? 0)) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** GPU jobs run on a pool's queue `guardianflow-gpu-{pool}`; `…@{host}` queues carry the uploads that follow them. */
export function isGpuJobQueue(queue: string): boolean {
  return queue.startsWith('guardianflow-gpu-') && !queue.includes('@');
}

/** The host of a worker identity `{pid}@{host}` (the GPU worker sets it so); another identity is its own host. */
export function hostOf(identity: string): string {
  const at = identity.indexOf('@');
  return at >= 0 ? identity.slice(at + 1) : identity;
}

const CLOSING: [keyof HistoryEvent, JobOutcome][] = [
  ['activityTaskCompletedEventAttributes', JobOutcome.completed],
  ['activityTaskFailedEventAttributes', JobOutcome.failed],
  ['activityTaskCanceledEventAttributes', JobOutcome.cancelled],
  ['activityTaskTimedOutEventAttributes', JobOutcome.timedOut],
];

export interface HistoryJobs {
  /** GPU jobs that ended, with the start and identity of their last attempt. */
  jobs: GpuJob[];
  /** Activity ids of GPU jobs scheduled and not ended: running (or queued) when the history was read. */
  open: Map<string, string>;
  /** Child workflows this run started, to read theirs. */
  children: { workflowId: string; runId: string }[];
  /** The run this one continued (continue-as-new), if any. */
  continuedFrom?: string;
  closed: boolean;
}

/** Reads the GPU jobs, child workflows and predecessor run out of one workflow run's history. */
export function readHistory(workflowId: string, events: HistoryEvent[]): HistoryJobs {
  const id = (value: unknown) => String(value);
  const scheduled = new Map<string, { activityId: string; activity: string }>();
  const started = new Map<string, { at: number; identity: string }>();
  const jobs: GpuJob[] = [];
  const children: HistoryJobs['children'] = [];
  let continuedFrom: string | undefined;
  let closed = false;
  for (const event of events) {
    const a = event.activityTaskScheduledEventAttributes;
    if (a && isGpuJobQueue(a.taskQueue?.name ?? '')) scheduled.set(id(event.eventId), { activityId: a.activityId ?? '', activity: a.activityType?.name ?? '' });
    const s = event.activityTaskStartedEventAttributes;
    if (s && scheduled.has(id(s.scheduledEventId))) started.set(id(s.scheduledEventId), { at: timestampMs(event.eventTime), identity: s.identity ?? '' });
    for (const [key, outcome] of CLOSING) {
      const c = event[key] as { scheduledEventId?: unknown } | null | undefined;
      const job = c && scheduled.get(id(c.scheduledEventId));
      if (!job) continue;
      const start = started.get(id(c.scheduledEventId));
      scheduled.delete(id(c.scheduledEventId));
      if (start) jobs.push({ workflowId, activity: job.activity, worker: start.identity, host: hostOf(start.identity), start: start.at, end: timestampMs(event.eventTime), outcome });
    }
    const child = event.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
    if (child?.workflowId && child.runId) children.push({ workflowId: child.workflowId, runId: child.runId });
    continuedFrom ??= event.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    closed ||= Boolean(
      event.workflowExecutionCompletedEventAttributes ||
        event.workflowExecutionFailedEventAttributes ||
        event.workflowExecutionCanceledEventAttributes ||
        event.workflowExecutionTerminatedEventAttributes ||
        event.workflowExecutionTimedOutEventAttributes ||
        event.workflowExecutionContinuedAsNewEventAttributes,
    );
  }
  const open = new Map([...scheduled.values()].map((j) => [j.activityId, j.activity]));
  return { jobs, open, children, continuedFrom, closed };
}

const PENDING_STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
const CONCURRENCY = 16;

/**
 * Every GPU job of a workflow — all runs of its continue-as-new chain and all its child
 * workflows (a sweep's trials), read from their histories; jobs still running end at `now`.
 */
export async function collectGpuJobs(client: Client, workflowId: string, now = Date.now()): Promise<GpuJob[]> {
  const jobs: GpuJob[] = [];
  const visit = async (wid: string, runId: string | undefined): Promise<HistoryJobs> => {
    const handle = client.workflow.getHandle(wid, runId);
    const read = readHistory(wid, (await handle.fetchHistory()).events ?? []);
    jobs.push(...read.jobs);
    if (!read.closed && read.open.size > 0) {
      const { raw } = await handle.describe();
      for (const p of raw.pendingActivities ?? []) {
        if (p.state !== PENDING_STARTED || !read.open.has(p.activityId ?? '')) continue;
        const worker = p.lastWorkerIdentity ?? '';
        jobs.push({ workflowId: wid, activity: read.open.get(p.activityId ?? '') ?? '', worker, host: hostOf(worker), start: timestampMs(p.lastStartedTime), end: now, outcome: JobOutcome.running });
      }
    }
    return read;
  };

  const pending: { workflowId: string; runId?: string }[] = [];
  // the chain, newest first: each run names the run it continued
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const read = await visit(workflowId, runId);
    pending.push(...read.children);
    runId = read.continuedFrom;
  }
  while (pending.length > 0) {
    const batch = pending.splice(0, CONCURRENCY);
    for (const read of await Promise.all(batch.map((c) => visit(c.workflowId, c.runId)))) pending.push(...read.children);
  }
  return jobs;
}
