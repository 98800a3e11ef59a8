import type { State, Worker } from '@temporalio/worker';
import { stopLeakedWorkers } from '../support/worker-leaks';

/** The check that fails a test file whose workers outlive it (test/support/stack-environment.ts), on stand-in workers. */

function fakeWorker(taskQueue: string, state: State, stopsAfterMs: number | null = 0): Worker & { shutdowns: number } {
  let current = state;
  const worker = {
    shutdowns: 0,
    options: { taskQueue, identity: `1@${taskQueue}` },
    getState: () => current,
    getStatus: () => ({ runState: current, numInFlightActivities: current === 'RUNNING' ? 1 : 0, numInFlightWorkflowActivations: 0 }),
    shutdown: () => {
      worker.shutdowns += 1;
      current = 'STOPPING';
      if (stopsAfterMs !== null) setTimeout(() => (current = 'STOPPED'), stopsAfterMs);
    },
  };
  return worker as unknown as Worker & { shutdowns: number };
}

test('workers that stopped, failed or never ran are no leak', async () => {
  const workers = [fakeWorker('a', 'STOPPED'), fakeWorker('b', 'FAILED'), fakeWorker('c', 'INITIALIZED')];
  expect(await stopLeakedWorkers(workers)).toBeUndefined();
  expect(workers.map((w) => (w as unknown as { shutdowns: number }).shutdowns)).toEqual([0, 0, 0]);
});

test('a running worker is shut down and named with what it was doing', async () => {
  const running = fakeWorker('guardianflow-gpu-default', 'RUNNING', 50);
  const message = await stopLeakedWorkers([fakeWorker('done', 'STOPPED'), running]);
  expect(running.shutdowns).toBe(1);
  expect(running.getState()).toBe('STOPPED');
  expect(message).toContain('1 Temporal worker(s) still running');
  expect(message).toContain('guardianflow-gpu-default (1@guardianflow-gpu-default): RUNNING, 1 activities');
  expect(message).not.toContain('still not stopped');
});

test('a worker already stopping is waited for, not shut down twice; one that never stops is named as stuck', async () => {
  const stopping = fakeWorker('draining', 'STOPPING', null);
  const message = await stopLeakedWorkers([stopping], 300);
  expect(stopping.shutdowns).toBe(0);
  expect(message).toContain('still not stopped after 0.3 s');
  expect(message).toMatch(/stopped after 0\.3 s[^\n]*\n\s+draining \(1@draining\): STOPPING/);
});
