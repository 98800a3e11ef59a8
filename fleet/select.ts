import { RunStatus } from '../activities/tracking/mlflow-responses';
import { Alias } from '../common/registry';
import { modelUri, type FleetMetricKey, type FleetMetrics, type FleetRun, type FleetSnapshot, type ModelVersionRecord, type Site } from './records';

/** Which sites and tasks a query covers; every field left out matches all. */
export interface FleetFilter {
  customer?: string;
  /** A site key, `{customer}/{region}-{plant}/{zone}`. */
  site?: string;
  task?: string;
}

export const DAY_MS = 24 * 60 * 60 * 1000;

export function matches(item: { site: Site; siteKey: string; task: string }, filter: FleetFilter = {}): boolean {
  return (
    (filter.customer === undefined || item.site.customer === filter.customer) &&
    (filter.site === undefined || item.siteKey === filter.site) &&
    (filter.task === undefined || item.task === filter.task)
  );
}

/** One site × task of the fleet, with its runs and registered versions. */
export interface SiteTask {
  siteKey: string;
  site: Site;
  task: string;
  runs: FleetRun[];
  models: ModelVersionRecord[];
}

/** The site × task pairs that have a run or a registered version, sorted by site then task. */
export function siteTasks(snapshot: FleetSnapshot, filter: FleetFilter = {}): SiteTask[] {
  const groups = new Map<string, SiteTask>();
  const group = (item: { site: Site; siteKey: string; task: string }) => {
    const key = `${item.siteKey}\u0000${item.task}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { siteKey: item.siteKey, site: item.site, task: item.task, runs: [], models: [] }));
    return g;
  };
  for (const run of snapshot.runs) if (matches(run, filter)) group(run).runs.push(run);
  for (const model of snapshot.models) if (matches(model, filter)) group(model).models.push(model);
  return [...groups.values()].sort((a, b) => a.siteKey.localeCompare(b.siteKey) || a.task.localeCompare(b.task));
}

/** A registered version and the numbers it is known by. */
export interface ModelSummary {
  name: string;
  version: string;
  aliases: Alias[];
  /** `openvino_int8` for a quantized variant's model, null for the trained one. */
  variant: string | null;
  /** The run that produced it. */
  runId: string | null;
  /** The latest benchmark run of this version, when there is one; its numbers win over the producer's. */
  measuredBy: string | null;
  metrics: FleetMetrics;
}

/**
 * Metrics whose producer's value describes the version better than a benchmark's: the GPU
 * utilisation of its training (what the optimizer's `batch_up` rule reads) is not the
 * utilisation of a benchmark's inference, which uses the same key.
 */
const TRAINING_METRICS = ['sys.gpu_util_pct'] as const;

function trainingOnly(metrics: FleetMetrics | undefined): FleetMetrics {
  return Object.fromEntries(TRAINING_METRICS.flatMap((key) => (metrics?.[key] === undefined ? [] : [[key, metrics[key]]])));
}

/**
 * The numbers of each registered version: the metrics of the run that produced it, overlaid by
 * those of its latest finished benchmark run (a run whose `modelSource` names the version: the
 * pipeline's infer stage measures every champion it promotes; a failed or running one is not
 * a measurement). A train run has accuracy but no latency; the
 * benchmark has both, on the site's data, so it decides where it exists — except for the
 * training's own figures (TRAINING_METRICS), which the producer keeps.
 */
export function versionSummaries(snapshot: FleetSnapshot): (model: ModelVersionRecord) => ModelSummary {
  const byRunId = new Map(snapshot.runs.map((r) => [r.runId, r]));
  const latestBenchmark = new Map<string, FleetRun>();
  for (const run of snapshot.runs) {
    if (!run.modelSource || run.status !== RunStatus.FINISHED) continue;
    const seen = latestBenchmark.get(run.modelSource);
    if (!seen || run.startTime > seen.startTime) latestBenchmark.set(run.modelSource, run);
  }
  return (model) => {
    const producer = model.runId ? byRunId.get(model.runId) : undefined;
    const benchmark = latestBenchmark.get(modelUri(model.name, model.version));
    return {
      name: model.name,
      version: model.version,
      aliases: model.aliases,
      variant: model.variant,
      runId: model.runId,
      measuredBy: benchmark?.runId ?? null,
      metrics: { ...producer?.metrics, ...benchmark?.metrics, ...trainingOnly(producer?.metrics) },
    };
  };
}

/** Registered versions holding the champion alias, as `models:/{name}/{version}`. */
export function championUris(snapshot: FleetSnapshot): Set<string> {
  return new Set(snapshot.models.filter((m) => m.aliases.includes(Alias.champion)).map((m) => modelUri(m.name, m.version)));
}

/** True for a run that produced a champion or benchmarked one. */
export function isChampionRun(run: FleetRun, champions: Set<string>): boolean {
  return (run.model?.aliases.includes(Alias.champion) ?? false) || (run.modelSource !== null && champions.has(run.modelSource));
}

/** Highest first, entries without the metric last (and equal to each other). */
export function metricDescending(metric: FleetMetricKey) {
  return (a: { metrics: FleetMetrics }, b: { metrics: FleetMetrics }): number => (b.metrics[metric] ?? -Infinity) - (a.metrics[metric] ?? -Infinity) || 0;
}
