/**
 * GPU-slot utilisation from the start and end times of GPU jobs: which slot each job ran on,
 * each slot's busy time, the idle gaps between consecutive jobs on a slot, and the makespan.
 * Pure, so `gflow report utilisation` and the benches count the same way.
 */

/** How a GPU job ended; `running` is a job still going when the report was made (it ends "now"). */
export const JobOutcome = { completed: 'completed', failed: 'failed', cancelled: 'cancelled', timedOut: 'timed_out', running: 'running' } as const;
export type JobOutcome = (typeof JobOutcome)[keyof typeof JobOutcome];

export interface JobSpan {
  /** The GPU host (a worker's GF_GPU_HOST_ID): jobs share slots only within their host. */
  host: string;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  outcome: JobOutcome;
}

/** A job placed on the timeline, in seconds since the first job started. */
export interface PlacedJob {
  start: number;
  end: number;
  outcome: JobOutcome;
}

export interface SlotLine {
  host: string;
  /** 1-based within the host. */
  slot: number;
  jobs: PlacedJob[];
  busy_s: number;
  /** Busy share of the makespan, 0..100. */
  busy_pct: number;
}

export interface UtilisationTotals {
  jobs: number;
  hosts: number;
  slots: number;
  /** First job start to last job end, in seconds. */
  makespan_s: number;
  busy_s: number;
  /** Busy share of slots × makespan, 0..100. */
  busy_pct: number;
  /** Idle time between consecutive jobs of a slot; null when no slot ran two jobs. */
  idle_gap_p50_s: number | null;
  idle_gap_p95_s: number | null;
  idle_gaps: number;
}

export interface Utilisation {
  slots: SlotLine[];
  totals: UtilisationTotals;
}

/** The q-quantile as the sweep bench reports it: the value at index ⌊q·n⌋ of the sorted values. */
export function quantile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const ms3 = (x: number) => Math.round(x) / 1000;
const pct1 = (part: number, whole: number) => (whole > 0 ? Math.round((1000 * part) / whole) / 10 : 0);

/**
 * Slots are not recorded (a host's worker runs up to `slots` jobs, any job on any free slot), so
 * each job goes on the slot of its host that freed up last before it started, as the sweep bench
 * counts gaps; a job that overlaps every slot of its host opens another. A host's slot count is
 * thus the most jobs it ran at once.
 */
export function slotUtilisation(spans: JobSpan[]): Utilisation {
  const origin = Math.min(...spans.map((s) => s.start));
  const finish = Math.max(...spans.map((s) => s.end));
  const makespanMs = spans.length ? finish - origin : 0;
  const hosts = [...new Set(spans.map((s) => s.host))].sort();
  const gaps: number[] = [];
  const slots: SlotLine[] = [];
  for (const host of hosts) {
    const lanes: { freeAt: number; jobs: JobSpan[] }[] = [];
    const own = spans.filter((s) => s.host === host).sort((a, b) => a.start - b.start || a.end - b.end);
    for (const job of own) {
      let lane: (typeof lanes)[number] | undefined;
      for (const candidate of lanes) if (candidate.freeAt <= job.start && (!lane || candidate.freeAt > lane.freeAt)) lane = candidate;
      if (lane) gaps.push(job.start - lane.freeAt);
      else lanes.push((lane = { freeAt: job.start, jobs: [] }));
      lane.jobs.push(job);
      lane.freeAt = job.end;
    }
    lanes.forEach((lane, i) => {
      const busyMs = lane.jobs.reduce((sum, j) => sum + (j.end - j.start), 0);
      slots.push({
        host,
        slot: i + 1,
        jobs: lane.jobs.map((j) => ({ start: ms3(j.start - origin), end: ms3(j.end - origin), outcome: j.outcome })),
        busy_s: ms3(busyMs),
        busy_pct: pct1(busyMs, makespanMs),
      });
    });
  }
  const busyMs = spans.reduce((sum, s) => sum + (s.end - s.start), 0);
  const p50 = quantile(gaps, 0.5);
  const p95 = quantile(gaps, 0.95);
  return {
    slots,
    totals: {
      jobs: spans.length,
      hosts: hosts.length,
      slots: slots.length,
      makespan_s: ms3(makespanMs),
      busy_s: ms3(busyMs),
      busy_pct: pct1(busyMs, makespanMs * slots.length),
      idle_gap_p50_s: p50 === null ? null : ms3(p50),
      idle_gap_p95_s: p95 === null ? null : ms3(p95),
      idle_gaps: gaps.length,
    },
  };
}
