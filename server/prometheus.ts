import { Gauge, Registry } from 'prom-client';
import { alerts, summary, type AlertRulesFile, type FleetSnapshot } from '../fleet';

/**
 * `/metrics` for Prometheus (and Grafana through it): one gauge per site × task for the champion's
 * mAP50 and latency p95 and the open alerts, labelled `customer`, `site`, `task`, so an alert rule
 * like `gflow_fleet_champion_map50 < 0.75` works without the HTTP API. Each server has its own
 * Registry (two apps in one process, as in tests, never share or double-register gauges), and
 * the gauges are rebuilt from the snapshot at each scrape, so a site task that left the fleet
 * leaves the output too.
 */
export class FleetGauges {
  readonly registry = new Registry();
  private readonly labelNames = ['customer', 'site', 'task'] as const;
  private readonly map50 = new Gauge({ name: 'gflow_fleet_champion_map50', help: 'det.mAP50 of the champion of a site task (its latest benchmark where there is one)', labelNames: this.labelNames, registers: [this.registry] });
  private readonly p95 = new Gauge({ name: 'gflow_fleet_champion_latency_p95_ms', help: 'sys.latency_ms_p95 of the champion of a site task, in milliseconds', labelNames: this.labelNames, registers: [this.registry] });
  private readonly open = new Gauge({ name: 'gflow_fleet_open_alerts', help: 'alerts open for a site task under the server’s alert rules', labelNames: this.labelNames, registers: [this.registry] });
  private readonly age = new Gauge({ name: 'gflow_fleet_snapshot_age_seconds', help: 'seconds since the fleet snapshot was read from MLflow', registers: [this.registry] });

  /** The exposition text for this snapshot; `now` only ages it (the queries count from when it was read, as everywhere). */
  async render(snapshot: FleetSnapshot, rules: AlertRulesFile, now: number): Promise<string> {
    for (const gauge of [this.map50, this.p95, this.open]) gauge.reset();
    const openAlerts = new Map<string, number>();
    for (const alert of alerts(snapshot, rules)) openAlerts.set(`${alert.siteKey}\u0000${alert.task}`, (openAlerts.get(`${alert.siteKey}\u0000${alert.task}`) ?? 0) + 1);
    for (const row of summary(snapshot)) {
      const labels = { customer: row.site.customer, site: row.siteKey, task: row.task };
      const map50 = row.champion?.metrics['det.mAP50'];
      const p95 = row.champion?.metrics['sys.latency_ms_p95'];
      if (map50 !== undefined) this.map50.set(labels, map50);
      if (p95 !== undefined) this.p95.set(labels, p95);
      this.open.set(labels, openAlerts.get(`${row.siteKey}\u0000${row.task}`) ?? 0);
    }
    this.age.set(Math.max(0, (now - snapshot.readAt) / 1000));
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
