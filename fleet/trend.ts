import type { FleetMetricKey, FleetSnapshot } from './records';
import { championUris, DAY_MS, isChampionRun, matches, type FleetFilter } from './select';

/** One run's value of the metric. */
export interface TrendPoint {
  /** The run's start, epoch milliseconds. */
  time: number;
  runId: string;
  runName: string;
  siteKey: string;
  task: string;
  value: number;
  /** The run produced or benchmarked a version that is champion now. */
  champion: boolean;
}

/** The runs of one UTC day, together. */
export interface TrendDay {
  /** `YYYY-MM-DD`, UTC. */
  day: string;
  /** Midnight UTC of that day, epoch milliseconds. */
  time: number;
  mean: number;
  min: number;
  max: number;
  count: number;
  /** One of the day's runs is a champion run. */
  champion: boolean;
}

export interface TrendOptions {
  filter?: FleetFilter;
  metric: FleetMetricKey;
  /** Only runs started in the last `days` days before `now` (default: all). */
  days?: number;
  /** Default: when the snapshot was read. */
  now?: number;
}

/** The metric of every run that logged it, oldest first (ties by run id). */
export function trend(snapshot: FleetSnapshot, options: TrendOptions): TrendPoint[] {
  const since = options.days === undefined ? -Infinity : (options.now ?? snapshot.readAt) - options.days * DAY_MS;
  const champions = championUris(snapshot);
  return snapshot.runs
    .filter((r) => matches(r, options.filter) && r.startTime >= since && r.metrics[options.metric] !== undefined)
    .map((r) => ({
      time: r.startTime,
      runId: r.runId,
      runName: r.runName,
      siteKey: r.siteKey,
      task: r.task,
      value: r.metrics[options.metric]!,
      champion: isChampionRun(r, champions),
    }))
    .sort((a, b) => a.time - b.time || a.runId.localeCompare(b.runId));
}

/** Points grouped by UTC day, oldest first; days without a run are absent. */
export function trendByDay(points: TrendPoint[]): TrendDay[] {
  const days = new Map<number, TrendPoint[]>();
  for (const p of points) {
    const midnight = Math.floor(p.time / DAY_MS) * DAY_MS;
    const day = days.get(midnight);
    if (day) day.push(p);
    else days.set(midnight, [p]);
  }
  return [...days.entries()]
    .sort(([a], [b]) => a - b)
    .map(([time, day]) => {
      const values = day.map((p) => p.value);
      return {
        day: new Date(time).toISOString().slice(0, 10),
        time,
        mean: values.reduce((sum, v) => sum + v, 0) / values.length,
        min: Math.min(...values),
        max: Math.max(...values),
        count: values.length,
        champion: day.some((p) => p.champion),
      };
    });
}
