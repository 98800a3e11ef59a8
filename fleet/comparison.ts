import { Alias } from '../common/registry';
import { FLEET_METRIC_KEYS, modelUri, type FleetMetrics, type FleetRun, type FleetSnapshot } from './records';
import { championUris, DAY_MS, isChampionRun, metricDescending, siteTasks, versionSummaries, type FleetFilter } from './select';

export const CompareBy = { architecture: 'architecture', version: 'version' } as const;
export type CompareBy = (typeof CompareBy)[keyof typeof CompareBy];

/** One architecture, or one registered version, of the site tasks compared. */
export interface ComparisonRow {
  /** The architecture (`yolov8s`), or `{model name}/{version}`. */
  key: string;
  /** Version rows: the registered model and version; null for architecture rows. */
  model: string | null;
  version: string | null;
  aliases: Alias[];
  /** Runs behind the numbers: an architecture's runs; a version's producer and benchmarks. */
  runs: number;
  /** Architecture rows: the mean of each metric over the runs that logged it; version rows: the version's numbers (see versionSummaries). */
  metrics: FleetMetrics;
  /** The run with the highest det.mAP50 (architecture), or the run the version's numbers come from. */
  bestRunId: string | null;
  /** A run of it produced or benchmarked a champion (architecture); the version is champion (version). */
  champion: boolean;
}

export interface ComparisonOptions {
  /** Usually one site and task; a wider filter pools them. */
  filter?: FleetFilter;
  by: CompareBy;
  /** Architecture rows: only runs started in the last `days` days before `now` (default: all). */
  days?: number;
  now?: number;
}

/** Architecture rows by mean det.mAP50 (highest first); version rows by model name, then version (newest first). */
export function comparison(snapshot: FleetSnapshot, options: ComparisonOptions): ComparisonRow[] {
  const groups = siteTasks(snapshot, options.filter);
  if (options.by === CompareBy.version) {
    const describe = versionSummaries(snapshot);
    const behind = new Map<string, number>();
    const count = (key: string) => behind.set(key, (behind.get(key) ?? 0) + 1);
    for (const run of snapshot.runs) {
      if (run.model) count(modelUri(run.model.name, run.model.version));
      if (run.modelSource) count(run.modelSource);
    }
    return groups
      .flatMap((g) => g.models)
      .map(describe)
      .sort((a, b) => a.name.localeCompare(b.name) || Number(b.version) - Number(a.version))
      .map((v) => ({
        key: `${v.name}/${v.version}`,
        model: v.name,
        version: v.version,
        aliases: v.aliases,
        runs: behind.get(modelUri(v.name, v.version)) ?? 0,
        metrics: v.metrics,
        bestRunId: v.measuredBy ?? v.runId,
        champion: v.aliases.includes(Alias.champion),
      }));
  }
  const since = options.days === undefined ? -Infinity : (options.now ?? snapshot.readAt) - options.days * DAY_MS;
  const champions = championUris(snapshot);
  const byArchitecture = new Map<string, FleetRun[]>();
  for (const run of groups.flatMap((g) => g.runs)) {
    if (run.architecture === null || run.startTime < since) continue;
    const runs = byArchitecture.get(run.architecture);
    if (runs) runs.push(run);
    else byArchitecture.set(run.architecture, [run]);
  }
  const rows = [...byArchitecture.entries()].map(([architecture, runs]): ComparisonRow => {
    const best = runs.filter((r) => r.metrics['det.mAP50'] !== undefined).sort(metricDescending('det.mAP50'))[0];
    return { key: architecture, model: null, version: null, aliases: [], runs: runs.length, metrics: means(runs), bestRunId: best?.runId ?? null, champion: runs.some((r) => isChampionRun(r, champions)) };
  });
  return rows.sort((a, b) => metricDescending('det.mAP50')(a, b) || a.key.localeCompare(b.key));
}

/** Each metric's mean over the runs that logged it. */
function means(runs: FleetRun[]): FleetMetrics {
  const out: FleetMetrics = {};
  for (const key of FLEET_METRIC_KEYS) {
    const values = runs.map((r) => r.metrics[key]).filter((v): v is number => v !== undefined);
    if (values.length > 0) out[key] = values.reduce((s, v) => s + v, 0) / values.length;
  }
  return out;
}
