import type { State, Worker } from '@temporalio/worker';

/**
 * Workers that outlive their test file. A test that times out leaves its `runUntil` running, so
 * its workers go on polling the shared test stack: they take later files' tasks with this file's
 * activities (and its torn-down module registry), and once global teardown stops the stack their
 * native pollers retry for ever and keep the test process from exiting — a CI run that should
 * have failed in minutes hit CI's time limit instead, with nothing but poll retries in its log.
 * `worker-registry.ts` records every worker a test file creates; `stack-environment.ts` stops
 * the ones still running once the file's own `afterAll` hooks are done, and fails the file.
 */

/** Where a test file's workers are recorded, on its global object. */
export const CREATED_WORKERS = Symbol.for('guardianflow.test.createdWorkers');

/** How long leaked workers get to stop (their activities are cancelled at once: shutdownGraceTime 0). */
const STOP_WAIT_MS = 60_000;
const ENDED: readonly State[] = ['STOPPED', 'FAILED'];

/** What names a worker in a failure: its queue, identity and what it is doing. */
function describeWorker(worker: Worker): string {
  const status = worker.getStatus();
  return `${worker.options.taskQueue} (${worker.options.identity}): ${status.runState}, ${status.numInFlightActivities} activities and ${status.numInFlightWorkflowActivations} workflow activations in flight`;
}

async function stopped(worker: Worker, deadline: number): Promise<boolean> {
  while (!ENDED.includes(worker.getState())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/**
 * Shuts down the workers that are still running (a worker never run polls nothing) and says
 * which they were, and which did not stop within `waitMs`; undefined when none was left running.
 */
export async function stopLeakedWorkers(workers: readonly Worker[], waitMs = STOP_WAIT_MS): Promise<string | undefined> {
  const leaked = workers.filter((w) => w.getState() !== 'INITIALIZED' && !ENDED.includes(w.getState()));
  if (leaked.length === 0) return undefined;
  const found = leaked.map(describeWorker);
  for (const worker of leaked) if (worker.getState() === 'RUNNING') worker.shutdown();
  const deadline = Date.now() + waitMs;
  const stuck: string[] = [];
  for (const worker of leaked) if (!(await stopped(worker, deadline))) stuck.push(describeWorker(worker));
  return (
    `${leaked.length} Temporal worker(s) still running when this file's tests ended (a test timed out or did not stop its workers); shut down now:\n  ${found.join('\n  ')}` +
    (stuck.length ? `\nstill not stopped after ${waitMs / 1000} s (an activity that ignores cancellation):\n  ${stuck.join('\n  ')}` : '')
  );
}
