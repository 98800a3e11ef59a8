import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { filterLiteral, RunStatus, type MlflowClient } from '../activities/tracking/mlflow-client';
import type { Settings } from '../common/settings';
import { FleetSnapshotSchema, joinModels, toFleetRun, toModelVersionRecords, type FleetRun, type FleetSnapshot } from './records';

/**
 * The fleet store: reads every site's runs and the model registry from MLflow into records,
 * keeps them in memory and in a JSON cache file, and on each refresh reads only what changed.
 *
 * A refresh reads (a) the experiment list, (b) runs of known experiments started at or after the
 * newest start already held (pages of 1,000; `>=` so runs sharing that millisecond are not lost,
 * the overlap is de-duplicated by run id), (c) runs of experiments not seen before, whole, (d) the
 * runs held as RUNNING, by id, since their metrics and status still change, and (e) the
 * registry (registered models' aliases and all versions: aliases move without any new run).
 * A run written afterwards with an older start time into a known experiment is only found by a
 * full read (`refresh({ full: true })`, `gflow metrics … --full`); so is a run deleted since.
 */

/** What the store needs from MLflow (MlflowClient has it; a test may count the calls). */
export type FleetSource = Pick<MlflowClient, 'searchExperiments' | 'searchRunsPage' | 'searchRegisteredModels' | 'searchModelVersions'>;

export interface FleetStoreOptions {
  mlflow: FleetSource;
  /** Where the cache lives; a cache written for another MLflow is not used. */
  cacheFile: string;
  /** The MLflow the cache belongs to. */
  mlflowUrl: string;
  now?: () => number;
}

export interface RefreshResult {
  snapshot: FleetSnapshot;
  /** `full`: nothing usable was held (or it was asked for); `incremental`: only changes were read. */
  mode: 'full' | 'incremental';
  /** Runs MLflow returned in this refresh (before de-duplication). */
  runsRead: number;
}

const CACHE_FORMAT = 1;

const CacheSchema = z.object({
  format: z.literal(CACHE_FORMAT),
  mlflowUrl: z.string(),
  /** Experiment ids already read in full at least once. */
  experiments: z.array(z.string()),
  snapshot: FleetSnapshotSchema,
});
type Cache = z.infer<typeof CacheSchema>;

const PAGE = 1000;
/** Experiment ids per search and run ids per `IN (…)` filter: well inside MLflow's and SQL's limits. */
const CHUNK = 100;
const ORDER = ['attributes.start_time ASC'];

/** The cache file of a settings' state folder: `<GF_STATE_DIR>/fleet/cache.json`. */
export function fleetCacheFile(settings: Settings): string {
  return path.join(settings.stateDir, 'fleet', 'cache.json');
}

export class FleetStore {
  private held: Cache | undefined;
  private loaded = false;
  private pending: Promise<RefreshResult> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: FleetStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The snapshot held in memory or on disk, without asking MLflow; undefined when there is none for this MLflow. */
  async cached(): Promise<FleetSnapshot | undefined> {
    return (await this.load())?.snapshot;
  }

  /** Reads what changed since the last read (everything when nothing is held, or with `full`), then writes the cache. One refresh at a time. */
  async refresh(opts: { full?: boolean } = {}): Promise<RefreshResult> {
    const previous = this.pending ?? Promise.resolve(undefined);
    const next = previous.catch(() => undefined).then(() => this.read(opts.full ?? false));
    this.pending = next;
    try {
      return await next;
    } finally {
      if (this.pending === next) this.pending = undefined;
    }
  }

  private async read(full: boolean): Promise<RefreshResult> {
    const held = full ? undefined : await this.load();
    const { mlflow } = this.options;
    const experiments = (await mlflow.searchExperiments()).map((e) => e.experiment_id);
    const known = new Set(held?.experiments ?? []);
    const fresh = experiments.filter((id) => !known.has(id));
    const old = experiments.filter((id) => known.has(id));
    const watermark = (held?.snapshot.runs ?? []).reduce((newest, r) => Math.max(newest, r.startTime), 0);
    const running = (held?.snapshot.runs ?? []).filter((r) => r.status === RunStatus.RUNNING && known.has(r.experimentId));

    const read: Omit<FleetRun, 'model'>[] = [];
    let runsRead = 0;
    const collect = async (ids: string[], filter: string) => {
      for (const chunk of chunks(ids, CHUNK)) {
        let pageToken: string | undefined;
        do {
          const page = await mlflow.searchRunsPage({ experimentIds: chunk, filter, maxResults: PAGE, orderBy: ORDER, pageToken });
          runsRead += page.runs.length;
          for (const run of page.runs) {
            const record = toFleetRun(run);
            if (record) read.push(record);
          }
          pageToken = page.nextPageToken;
        } while (pageToken);
      }
    };
    await collect(fresh, '');
    if (old.length > 0) await collect(old, `attributes.start_time >= ${watermark}`);
    for (const chunk of chunks(running, CHUNK)) {
      await collect([...new Set(chunk.map((r) => r.experimentId))], `attributes.run_id IN (${chunk.map((r) => filterLiteral(r.runId)).join(', ')})`);
    }
    const [registered, versions] = await Promise.all([mlflow.searchRegisteredModels(), mlflow.searchModelVersions('')]);

    const listed = new Set(experiments);
    const byId = new Map((held?.snapshot.runs ?? []).filter((r) => listed.has(r.experimentId)).map((r) => [r.runId, r as Omit<FleetRun, 'model'>]));
    for (const record of read) byId.set(record.runId, record);
    const models = toModelVersionRecords(registered, versions);
    const snapshot: FleetSnapshot = { readAt: this.now(), runs: joinModels([...byId.values()], models), models };
    const cache: Cache = { format: CACHE_FORMAT, mlflowUrl: this.options.mlflowUrl, experiments, snapshot };
    await this.write(cache);
    this.held = cache;
    return { snapshot, mode: held ? 'incremental' : 'full', runsRead };
  }

  private async load(): Promise<Cache | undefined> {
    if (this.loaded) return this.held;
    this.loaded = true;
    const text = await readFile(this.options.cacheFile, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined; // a damaged cache is rebuilt by a full read
    }
    const parsed = CacheSchema.safeParse(json);
    if (parsed.success && parsed.data.mlflowUrl === this.options.mlflowUrl) this.held = parsed.data;
    return this.held;
  }

  /** Write-then-rename, so a reader never sees half a file and a crash leaves the old cache whole. */
  private async write(cache: Cache): Promise<void> {
    const file = this.options.cacheFile;
    await mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(temp, JSON.stringify(cache));
    await rename(temp, file);
  }
}

/** A store on the settings' MLflow and state folder. */
export function openFleetStore(settings: Settings, mlflow: FleetSource): FleetStore {
  return new FleetStore({ mlflow, cacheFile: fleetCacheFile(settings), mlflowUrl: settings.mlflow.url });
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
