import type { FleetSnapshot, FleetStore } from '../fleet';

/**
 * The server's view of the fleet store: at most one refresh every `maxAgeMs`, shared by every
 * request that arrives meanwhile (a page load asks summary, alerts and several trends at once;
 * they all wait for the same incremental read). When MLflow cannot be reached, the last snapshot
 * (in memory, else the store's cache file) keeps answering and `lastError` says why it is old.
 */
export class SnapshotCache {
  private current: FleetSnapshot | undefined;
  private pending: Promise<FleetSnapshot> | undefined;
  private triedAt = -Infinity;
  /** The last refresh's failure, null after a successful one. */
  lastError: string | null = null;

  constructor(
    private readonly store: Pick<FleetStore, 'refresh' | 'cached'>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<FleetSnapshot> {
    if (this.pending) return this.pending;
    if (this.current && this.now() - this.triedAt < this.maxAgeMs) return Promise.resolve(this.current);
    this.triedAt = this.now();
    const pending = this.refresh().finally(() => {
      this.pending = undefined;
    });
    this.pending = pending;
    return pending;
  }

  private async refresh(): Promise<FleetSnapshot> {
    try {
      this.current = (await this.store.refresh()).snapshot;
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
      this.current ??= await this.store.cached();
      if (!this.current) throw err;
    }
    return this.current;
  }
}
