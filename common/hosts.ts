import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

/**
 * The GPU hosts of a pool as the pool knows them: one long-lived `gpuHost` workflow per host
 * (id `gf-host-{pool}-{host}`, on the control queue) is each host's record and its control
 * channel. The host's worker checks in when it starts, says it is alive every few seconds, and
 * watches the record for a drain; `gflow host drain` asks the record, never the host itself, so
 * it works from any machine that reaches Temporal. Pure: the workflow bundle imports it.
 */

/** The workflow type of a host's record. */
export const HOST_WORKFLOW_TYPE = 'gpuHost';

export function hostWorkflowId(pool: string, hostId: string): string {
  return `gf-host-${pool}-${hostId}`;
}

/** What the record says; `gone` is also what a reader concludes from a host silent past HOST_GONE_AFTER_MS. */
export const HostState = { active: 'active', draining: 'draining', gone: 'gone' } as const;
export type HostState = (typeof HostState)[keyof typeof HostState];

/** `graceful`: running jobs finish; `now`: running trainings go back to the pool and resume elsewhere. */
export const DrainMode = { graceful: 'graceful', now: 'now' } as const;
export type DrainMode = (typeof DrainMode)[keyof typeof DrainMode];

/** What a GPU worker tells its record when it starts. */
export interface HostCheckIn {
  /** The worker identity (`{pid}@{host}`), as task queue pollers and activity histories show it. */
  identity: string;
  slots: number;
  devices: { index: string; name: string }[];
}

export interface HostRecord extends Partial<HostCheckIn> {
  pool: string;
  hostId: string;
  state: HostState;
  drain?: DrainMode;
  /** ISO times. */
  drainRequestedAt?: string;
  startedAt?: string;
  lastSeen?: string;
  stoppedAt?: string;
}

/** How often a live worker says so (a signal each time). */
export const HOST_SEEN_INTERVAL_MS = 15_000;
/** A host silent this long is taken as gone (killed, or cut off), whatever its record says. */
export const HOST_GONE_AFTER_MS = 4 * HOST_SEEN_INTERVAL_MS;

export const hostCheckInSignal = defineSignal<[HostCheckIn]>('hostCheckIn');
export const hostSeenSignal = defineSignal('hostSeen');
/** The worker finished draining and stopped. */
export const hostStoppedSignal = defineSignal('hostStopped');
export const hostQuery = defineQuery<HostRecord>('host');
/** `gflow host drain`: refused for a host that is gone; `now` may follow a graceful drain, never the reverse. */
export const drainHostUpdate = defineUpdate<HostRecord, [DrainMode]>('drain');

/** The state a reader shows: the record's, unless the host has been silent too long. */
export function effectiveHostState(record: HostRecord, now: number): HostState {
  if (record.state === HostState.gone) return HostState.gone;
  const seen = record.lastSeen ? Date.parse(record.lastSeen) : 0;
  return now - seen > HOST_GONE_AFTER_MS ? HostState.gone : record.state;
}
