import { effectiveHostState, HostState, type DrainMode, type HostRecord } from '../common/hosts';
import { PRIORITY_KEYS } from '../scenarios/pool-policy';

/**
 * The pool view (`gflow pool`, `/api/pool`): hosts, what runs on each, what waits and why. Pure:
 * cli/pool.ts reads Temporal and hands the pieces to `poolView`; `whyWaiting` explains one workflow.
 */

/** The priority key of a job that carries none (Temporal's default, `normal`). */
export const DEFAULT_PRIORITY = PRIORITY_KEYS.normal;

/** A priority key as `--priority` names it (scenarios/pool-policy.ts), or the bare key. */
export function priorityName(key: number): string {
  return Object.entries(PRIORITY_KEYS).find(([, k]) => k === key)?.[0] ?? `priority ${key}`;
}

/** One GPU job (an activity on the pool's queue): running on a host, or waiting for a slot. */
export interface PoolJob {
  workflowId: string;
  /** The workflow the user started (a sweep for its trials); the job's own workflow when it is that. */
  rootWorkflowId: string;
  workflowType: string;
  /** GfSite: the experiment's site path (customer/region-plant/zone). */
  site?: string;
  activity: string;
  attempt: number;
  priority: number;
  fairnessKey?: string;
  state: 'running' | 'waiting';
  /** running: where (worker identity and host); waiting: nothing. */
  identity?: string;
  host?: string;
  /** ISO time: running since (this attempt), or waiting since (scheduled, or its last attempt ended). */
  since: string;
  /** Why the previous attempt ended, for a retry that waits (`HostDraining`: handed back by a drain). */
  lastFailure?: string;
}

/** Trials a sweep has prepared and holds back for its own `parallel` limit: they are not on the queue yet. */
export interface SweepHold {
  workflowId: string;
  site?: string;
  queued: number;
  running: number;
}

/** A worker polling the pool's queue (Temporal's task queue description). */
export interface PoolPoller {
  identity: string;
  host: string;
  lastAccess?: string;
}

export interface PoolHost {
  hostId: string;
  state: HostState;
  drain?: DrainMode;
  identity?: string;
  slots?: number;
  devices?: { index: string; name: string }[];
  startedAt?: string;
  lastSeen?: string;
  stoppedAt?: string;
  /** Whether it polls the pool's queue now (a host whose slots are all busy does not). */
  polling: boolean;
  running: PoolJob[];
}

export interface PoolView {
  pool: string;
  queue: string;
  readAt: string;
  hosts: PoolHost[];
  /** Slots of active hosts, and how many of them run a job. */
  slots: { total: number; busy: number };
  waiting: PoolJob[];
  /** Waiting jobs counted by priority and fairness key (customer), most urgent first. */
  waitingBy: { priority: number; priorityName: string; fairnessKey: string | null; jobs: number }[];
  held: SweepHold[];
  /** Temporal's own count of the queue's backlog, when the server reports it. */
  backlog?: { tasks: number; ageSeconds: number; byPriority?: Record<string, number> };
}

export interface PoolParts {
  pool: string;
  queue: string;
  now: number;
  records: HostRecord[];
  pollers: PoolPoller[];
  jobs: PoolJob[];
  held: SweepHold[];
  backlog?: PoolView['backlog'];
}

/** Waiting jobs in the order the queue hands them out: priority first, then arrival. */
function queueOrder(a: PoolJob, b: PoolJob): number {
  return a.priority - b.priority || a.since.localeCompare(b.since);
}

/** Assembles the view: hosts from their records (and any polling host without one), jobs placed on them. */
export function poolView(parts: PoolParts): PoolView {
  const running = parts.jobs.filter((j) => j.state === 'running');
  const polling = new Set(parts.pollers.map((p) => p.host));
  const hosts = new Map<string, PoolHost>();
  for (const r of parts.records) {
    hosts.set(r.hostId, {
      hostId: r.hostId,
      state: effectiveHostState(r, parts.now),
      drain: r.drain,
      identity: r.identity,
      slots: r.slots,
      devices: r.devices,
      startedAt: r.startedAt,
      lastSeen: r.lastSeen,
      stoppedAt: r.stoppedAt,
      polling: polling.has(r.hostId),
      running: [],
    });
  }
  // a worker older than host records, or one whose record could not be read, still shows
  for (const p of parts.pollers) if (!hosts.has(p.host)) hosts.set(p.host, { hostId: p.host, state: HostState.active, identity: p.identity, lastSeen: p.lastAccess, polling: true, running: [] });
  for (const job of running) {
    const host = job.host ?? 'unknown';
    if (!hosts.has(host)) hosts.set(host, { hostId: host, state: HostState.active, polling: polling.has(host), running: [] });
    hosts.get(host)!.running.push(job);
  }
  const active = [...hosts.values()].filter((h) => h.state === HostState.active);
  const waiting = parts.jobs.filter((j) => j.state === 'waiting').sort(queueOrder);
  const groups = new Map<string, PoolView['waitingBy'][number]>();
  for (const job of waiting) {
    const key = `${job.priority}\u0000${job.fairnessKey ?? ''}`;
    const group = groups.get(key) ?? { priority: job.priority, priorityName: priorityName(job.priority), fairnessKey: job.fairnessKey ?? null, jobs: 0 };
    group.jobs += 1;
    groups.set(key, group);
  }
  return {
    pool: parts.pool,
    queue: parts.queue,
    readAt: new Date(parts.now).toISOString(),
    hosts: [...hosts.values()].sort((a, b) => a.hostId.localeCompare(b.hostId)),
    slots: { total: active.reduce((n, h) => n + (h.slots ?? 0), 0), busy: active.reduce((n, h) => n + h.running.length, 0) },
    waiting,
    waitingBy: [...groups.values()].sort((a, b) => a.priority - b.priority || b.jobs - a.jobs),
    held: parts.held,
    backlog: parts.backlog,
  };
}

/** "3 urgent and 12 of customer X": what is ahead of a waiting job, by priority above it, then by fairness key at its own. */
function aheadOf(view: PoolView, job: PoolJob): string {
  const ahead = view.waiting.filter((j) => j !== job && queueOrder(j, job) < 0);
  if (ahead.length === 0) return 'nothing is ahead of it';
  const parts: string[] = [];
  const above = new Map<number, number>();
  for (const j of ahead) if (j.priority < job.priority) above.set(j.priority, (above.get(j.priority) ?? 0) + 1);
  for (const [priority, n] of [...above].sort((a, b) => a[0] - b[0])) parts.push(`${n} ${priorityName(priority)}`);
  const level = new Map<string, number>();
  for (const j of ahead) if (j.priority === job.priority) level.set(j.fairnessKey ?? '', (level.get(j.fairnessKey ?? '') ?? 0) + 1);
  for (const [key, n] of [...level].sort((a, b) => b[1] - a[1])) parts.push(key ? `${n} of customer ${key}` : `${n} ${priorityName(job.priority)} without a customer key`);
  const joined = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}` : parts[0];
  return `${joined} ahead of it`;
}

/** Why the GPU jobs of a workflow (or of its trials) wait, in sentences; empty when nothing of it waits. */
export function whyWaiting(view: PoolView, workflowId: string): string[] {
  const mine = (j: { workflowId: string; rootWorkflowId?: string }) => j.workflowId === workflowId || j.rootWorkflowId === workflowId;
  const lines: string[] = [];
  const active = view.hosts.filter((h) => h.state === HostState.active);
  const free = view.slots.total - view.slots.busy;
  for (const job of view.waiting.filter(mine)) {
    const what = `${job.workflowId} (${job.activity}, ${priorityName(job.priority)}${job.fairnessKey ? `, customer ${job.fairnessKey}` : ''}) waits since ${job.since}`;
    const retry = job.lastFailure ? `; attempt ${job.attempt}, after ${job.lastFailure}` : '';
    if (active.length === 0) lines.push(`${what}: no active host in pool ${view.pool}${retry}`);
    else if (free > 0) lines.push(`${what}: ${free} slot(s) free, it should start within seconds${retry}`);
    else lines.push(`${what}: all ${view.slots.total} slot(s) of ${active.length} active host(s) busy; ${aheadOf(view, job)}${retry}`);
  }
  for (const hold of view.held.filter((h) => h.workflowId === workflowId)) {
    if (hold.queued > 0) lines.push(`${hold.workflowId}: ${hold.queued} trial(s) held back by the sweep's own parallel limit (${hold.running} running)`);
  }
  return lines;
}
