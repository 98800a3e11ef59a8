import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, setHandler, setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import { DrainMode, drainHostUpdate, hostCheckInSignal, hostQuery, hostSeenSignal, HostState, hostStoppedSignal, type HostRecord } from '../common/hosts';

export interface GpuHostInput {
  pool: string;
  hostId: string;
  /** The record so far, when the workflow continued as new. */
  record?: HostRecord;
}

/** Events after which a host's record continues as new (a live host adds a signal every few seconds). */
const HISTORY_LIMIT = 2000;

/**
 * One GPU host's record and control channel (common/hosts.ts): its worker's check-in, last
 * sign of life and drain state; `gflow host drain` updates it and the worker, watching it, acts.
 * Runs for as long as the host exists, continuing as new to keep its history short.
 */
export async function gpuHost(input: GpuHostInput): Promise<void> {
  const record: HostRecord = input.record ?? { pool: input.pool, hostId: input.hostId, state: HostState.gone };
  const now = () => new Date().toISOString();

  setHandler(hostQuery, () => record);
  setHandler(hostCheckInSignal, (checkIn) => {
    // a worker that starts is back in service, whatever the record said (the maintenance is over)
    Object.assign(record, checkIn, { state: HostState.active, drain: undefined, drainRequestedAt: undefined, stoppedAt: undefined, startedAt: now(), lastSeen: now() });
  });
  setHandler(hostSeenSignal, () => {
    record.lastSeen = now();
  });
  setHandler(hostStoppedSignal, () => {
    record.state = HostState.gone;
    record.stoppedAt = now();
    record.lastSeen = now();
  });
  setHandler(
    drainHostUpdate,
    (mode) => {
      // `now` may hurry a graceful drain along; a graceful request leaves a `now` drain as it is
      if (record.drain !== DrainMode.now) record.drain = mode;
      record.state = HostState.draining;
      record.drainRequestedAt ??= now();
      return record;
    },
    {
      validator: (_mode) => {
        if (record.state === HostState.gone) throw ApplicationFailure.create({ message: `host ${record.hostId} is not running (its record says gone${record.stoppedAt ? ` since ${record.stoppedAt}` : ''})`, nonRetryable: true });
      },
    },
  );

  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > HISTORY_LIMIT);
  await condition(allHandlersFinished);
  await continueAsNew<typeof gpuHost>({ pool: input.pool, hostId: input.hostId, record });
}

// a host's record lives as long as the host: it follows the current build (a pinned one would be
// stranded once its build's control workers are gone)
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, gpuHost);
