import { Alias } from '../common/registry';
import type { FleetSnapshot, Site } from './records';
import { DAY_MS, metricDescending, siteTasks, versionSummaries, type FleetFilter, type ModelSummary } from './select';

/** One line of the fleet overview: what serves a site's task, how good and fast it is, what waits. */
export interface SummaryRow {
  siteKey: string;
  site: Site;
  task: string;
  /** The champion of the trained model `{customer}.{region}-{plant}.{zone}.{task}`; null when it has none. */
  champion: ModelSummary | null;
  /** Champions of its quantized variants' models (`…__openvino_int8`), by name. */
  variantChampions: ModelSummary[];
  /** The candidate (base or variant model, not champion) with the highest `det.mAP50`. */
  bestCandidate: ModelSummary | null;
  /** Runs started in the window. */
  runsInWindow: number;
  /** Start of the latest run, null when the site task has only registry entries. */
  lastRunAt: number | null;
}

export interface SummaryOptions {
  filter?: FleetFilter;
  /** The window for `runsInWindow`, in days back from `now` (default 7, the seeds' window). */
  days?: number;
  /** Default: when the snapshot was read. */
  now?: number;
}

const byMap50 = metricDescending('det.mAP50');

/** Per site × task, sorted by site then task. */
export function summary(snapshot: FleetSnapshot, options: SummaryOptions = {}): SummaryRow[] {
  const now = options.now ?? snapshot.readAt;
  const since = now - (options.days ?? 7) * DAY_MS;
  const describe = versionSummaries(snapshot);
  return siteTasks(snapshot, options.filter).map((st) => {
    const champions = st.models
      .filter((m) => m.aliases.includes(Alias.champion))
      .map(describe)
      .sort((a, b) => a.name.localeCompare(b.name));
    const candidates = st.models
      .filter((m) => m.aliases.includes(Alias.candidate) && !m.aliases.includes(Alias.champion))
      .map(describe)
      .sort((a, b) => byMap50(a, b) || Number(b.version) - Number(a.version));
    const starts = st.runs.map((r) => r.startTime);
    return {
      siteKey: st.siteKey,
      site: st.site,
      task: st.task,
      champion: champions.find((c) => c.variant === null) ?? null,
      variantChampions: champions.filter((c) => c.variant !== null),
      bestCandidate: candidates[0] ?? null,
      runsInWindow: starts.filter((t) => t >= since).length,
      lastRunAt: starts.length > 0 ? starts.reduce((a, b) => Math.max(a, b)) : null,
    };
  });
}
