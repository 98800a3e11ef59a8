import type { FleetSnapshot, RefreshResult } from '../../fleet';
import { SnapshotCache } from '../../server/snapshot-cache';

/** The server's snapshot cache over a stand-in store whose refreshes the test resolves by hand. */
function fakeStore(cachedOnDisk?: FleetSnapshot) {
  const calls: { resolve: (s: FleetSnapshot) => void; reject: (e: Error) => void }[] = [];
  const store = {
    refresh: () => new Promise<RefreshResult>((resolve, reject) => calls.push({ resolve: (snapshot) => resolve({ snapshot, mode: 'incremental', runsRead: 0 }), reject })),
    cached: () => Promise.resolve(cachedOnDisk),
  };
  return { store, calls };
}

const snap = (readAt: number): FleetSnapshot => ({ readAt, runs: [], models: [] });

describe('SnapshotCache', () => {
  it('lets concurrent requests share one refresh, and refreshes again only after max age', async () => {
    let clock = 1_000;
    const { store, calls } = fakeStore();
    const cache = new SnapshotCache(store, 10_000, () => clock);
    const waiting = [cache.get(), cache.get(), cache.get()];
    expect(calls).toHaveLength(1);
    calls[0].resolve(snap(1));
    expect((await Promise.all(waiting)).map((s) => s.readAt)).toEqual([1, 1, 1]);

    clock += 9_999;
    expect((await cache.get()).readAt).toBe(1);
    expect(calls).toHaveLength(1);

    clock += 1;
    const next = cache.get();
    expect(calls).toHaveLength(2);
    calls[1].resolve(snap(2));
    expect((await next).readAt).toBe(2);
  });

  it('keeps answering from the last snapshot when a refresh fails, saying why', async () => {
    let clock = 0;
    const { store, calls } = fakeStore();
    const cache = new SnapshotCache(store, 10, () => clock);
    const first = cache.get();
    calls[0].resolve(snap(1));
    await first;
    clock = 100;
    const second = cache.get();
    calls[1].reject(new Error('MLflow /experiments/search: unreachable'));
    expect((await second).readAt).toBe(1);
    expect(cache.lastError).toBe('MLflow /experiments/search: unreachable');
  });

  it('falls back to the cache file before any refresh succeeded, and fails only without one', async () => {
    const onDisk = fakeStore(snap(7));
    const fromDisk = new SnapshotCache(onDisk.store, 10);
    const answer = fromDisk.get();
    onDisk.calls[0].reject(new Error('down'));
    expect((await answer).readAt).toBe(7);

    const nothing = fakeStore();
    const empty = new SnapshotCache(nothing.store, 10_000);
    const failing = empty.get();
    nothing.calls[0].reject(new Error('down'));
    await expect(failing).rejects.toThrow('down');
    // no snapshot held: the next request tries again at once
    void empty.get().catch(() => undefined);
    expect(nothing.calls).toHaveLength(2);
    nothing.calls[1].reject(new Error('still down'));
  });
});
