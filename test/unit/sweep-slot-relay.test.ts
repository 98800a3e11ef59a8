import type { Client } from '@temporalio/client';
import { sweepSlotRelay } from '../../activities/gpu/sweep-slot-relay';

/**
 * The job's side of the slot relay (the sweep's side: sweep-slots.test.ts; both on a server:
 * workflow-logic/sweep.test.ts): it learns its successor while it runs, hands on without asking
 * again at the end, asks when it heard nothing, and gives the slot back when the successor is gone.
 */

/** A client whose workflows answer `gpuSuccessor` from `successors` and record every call. */
function fakeClient(successors: Record<string, number | null>, gone: string[] = []) {
  const calls: string[] = [];
  const client = {
    workflow: {
      getHandle: (id: string) => ({
        query: () => {
          calls.push(`query ${id}`);
          return Promise.resolve(successors[id] ?? null);
        },
        signal: (def: { name: string }, ...args: unknown[]) => {
          calls.push(`${def.name} ${id}${args.length ? ` ${JSON.stringify(args)}` : ''}`);
          return gone.includes(id) ? Promise.reject(new Error('workflow not found')) : Promise.resolve();
        },
      }),
    },
  } as unknown as Client;
  return { client, calls };
}

const slot = { sweepId: 'sw', index: 3 };
const poll = { firstMs: 20, maxMs: 80 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('asks while the job runs, then hands on to the successor heard of without asking again', async () => {
  const { client, calls } = fakeClient({ 'sw/trial-3': 5 });
  const relay = sweepSlotRelay(client, poll);
  const stop = relay.watch(slot);
  await sleep(100); // asked at 20 and 60 ms
  const asked = calls.filter((c) => c.startsWith('query')).length;
  expect(asked).toBeGreaterThanOrEqual(2);
  calls.length = 0;
  await relay.release(slot);
  stop();
  expect(calls).toEqual(['gpuPermit sw/trial-5', 'gpuReleased sw [3,5]']);
  await sleep(120);
  expect(calls).toHaveLength(2); // stopped: no more questions
});

it('asks at the end when it heard nothing yet', async () => {
  const { client, calls } = fakeClient({ 'sw/trial-3': 4 });
  const relay = sweepSlotRelay(client, { firstMs: 10_000, maxMs: 10_000 });
  const stop = relay.watch(slot);
  await relay.release(slot);
  stop();
  expect(calls).toEqual(['query sw/trial-3', 'gpuPermit sw/trial-4', 'gpuReleased sw [3,4]']);
});

it('gives the slot back to the sweep when no successor is designated, or the successor is gone', async () => {
  const none = fakeClient({});
  await sweepSlotRelay(none.client, poll).release(slot);
  expect(none.calls).toEqual(['query sw/trial-3', 'gpuReleased sw [3]']);

  const gone = fakeClient({ 'sw/trial-3': 6 }, ['sw/trial-6']);
  await sweepSlotRelay(gone.client, poll).release(slot);
  expect(gone.calls).toEqual(['query sw/trial-3', 'gpuPermit sw/trial-6', 'gpuReleased sw [3]']);
});
