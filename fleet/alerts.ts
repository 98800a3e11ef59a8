import { Alias } from '../common/registry';
import { rulesFor, type AlertRulesFile, type Severity } from './alert-rules';
import type { FleetSnapshot, Site } from './records';
import { DAY_MS, siteTasks, versionSummaries, type FleetFilter } from './select';

export const AlertRule = { lowAccuracy: 'LOW_ACCURACY', highLatency: 'HIGH_LATENCY', accuracyDrop: 'ACCURACY_DROP', noRecentRun: 'NO_RECENT_RUN' } as const;
export type AlertRule = (typeof AlertRule)[keyof typeof AlertRule];

/** Something about a site's task that needs a look. */
export interface Alert {
  rule: AlertRule;
  severity: Severity;
  siteKey: string;
  site: Site;
  task: string;
  /** The champion concerned (champion rules); null for NO_RECENT_RUN. */
  model: string | null;
  version: string | null;
  /** The measured value: mAP50, latency p95 in ms, the mAP50 drop, or whole days since the last run (null: no run at all). */
  value: number | null;
  threshold: number;
  message: string;
}

export interface AlertOptions {
  filter?: FleetFilter;
  /** Default: when the snapshot was read. */
  now?: number;
}

const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/**
 * Evaluates the rules for every site × task: each champion (the trained model's and each
 * variant's) against the accuracy, latency and drop rules (a champion without the metric is not
 * judged: a metric that was not measured is absent, never 0), and the site task against the
 * no-recent-run rule. Sorted by severity, then site, task and rule.
 */
export function alerts(snapshot: FleetSnapshot, file: AlertRulesFile, options: AlertOptions = {}): Alert[] {
  const now = options.now ?? snapshot.readAt;
  const describe = versionSummaries(snapshot);
  const out: Alert[] = [];
  for (const st of siteTasks(snapshot, options.filter)) {
    const rules = rulesFor(file, st);
    const raise = (rule: AlertRule, severity: Severity, model: { name: string; version: string } | null, value: number | null, threshold: number, message: string) =>
      out.push({ rule, severity, siteKey: st.siteKey, site: st.site, task: st.task, model: model?.name ?? null, version: model?.version ?? null, value, threshold, message });

    for (const champion of st.models.filter((m) => m.aliases.includes(Alias.champion)).map(describe)) {
      const at = `${champion.name} v${champion.version}`;
      const map50 = champion.metrics['det.mAP50'];
      const p95 = champion.metrics['sys.latency_ms_p95'];
      const { low_accuracy: low, high_latency: slow, accuracy_drop: drop } = rules;
      if (low.enabled && map50 !== undefined && map50 < low.below) {
        raise(AlertRule.lowAccuracy, low.severity, champion, map50, low.below, `${at}: mAP50 ${fixed(map50)} below ${low.below}`);
      }
      if (slow.enabled && p95 !== undefined && p95 > slow.above_ms) {
        raise(AlertRule.highLatency, slow.severity, champion, p95, slow.above_ms, `${at}: latency p95 ${p95.toFixed(1)} ms above ${slow.above_ms} ms`);
      }
      const previous = st.models.find((m) => m.name === champion.name && m.aliases.includes(Alias.rollback));
      const before = previous && describe(previous).metrics['det.mAP50'];
      if (drop.enabled && map50 !== undefined && before !== undefined && before - map50 > drop.above) {
        raise(AlertRule.accuracyDrop, drop.severity, champion, before - map50, drop.above, `${at}: mAP50 ${fixed(map50)} is ${fixed(before - map50)} below the previous champion v${previous!.version} (${fixed(before)})`);
      }
    }

    const stale = rules.no_recent_run;
    const last = st.runs.reduce((latest, r) => Math.max(latest, r.startTime), -Infinity);
    if (stale.enabled && now - last > stale.days * DAY_MS) {
      const idle = Number.isFinite(last) ? Math.floor((now - last) / DAY_MS) : null;
      const message = idle === null ? 'no run recorded' : `no run for ${idle} days (last ${new Date(last).toISOString().slice(0, 10)})`;
      raise(AlertRule.noRecentRun, stale.severity, null, idle, stale.days, message);
    }
  }
  return out.sort(
    (a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.siteKey.localeCompare(b.siteKey) || a.task.localeCompare(b.task) || a.rule.localeCompare(b.rule) || (a.model ?? '').localeCompare(b.model ?? ''),
  );
}

const fixed = (v: number) => v.toFixed(3);
