import { parseAlertRules, NO_RULES_FILE } from '../../fleet/alert-rules';
import { alerts } from '../../fleet/alerts';
import { comparison } from '../../fleet/comparison';
import type { FleetRun, FleetSnapshot } from '../../fleet/records';
import { summary } from '../../fleet/summary';
import { trend, trendByDay } from '../../fleet/trend';
import { A_INT8, A_PPE, ACME, at, models, runRecord, snapshot, versionRecord } from '../support/hand-fleet';

/** The query functions over the hand-built fleet of test/support/hand-fleet.ts. */

describe('summary', () => {
  it('gives each site task its champion (benchmark numbers over the producer’s), variant champions, best candidate and runs in the window', () => {
    const rows = summary(snapshot, { days: 7 });
    expect(rows.map((r) => [r.siteKey, r.task, r.champion?.version, r.champion?.measuredBy, r.champion?.metrics, r.variantChampions.map((v) => [v.name, v.version, v.metrics]), r.bestCandidate?.version ?? null, r.runsInWindow, r.lastRunAt])).toEqual([
      ['acme/north-p1/weld', 'fall', '1', null, { 'det.mAP50': 0.6 }, [], null, 0, at(5, 8)],
      ['acme/north-p1/weld', 'ppe', '2', 'a3', { 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40 }, [[A_INT8, '1', { 'det.mAP50': 0.77, 'sys.latency_ms_p95': 12 }]], '3', 6, at(19, 11)],
      ['beta/south-p2/dock', 'ppe', '4', null, { 'det.mAP50': 0.9 }, [], null, 1, at(19, 8)],
    ]);
  });

  it('filters by customer and task and counts runs in a shorter window', () => {
    const rows = summary(snapshot, { filter: { customer: 'acme', task: 'ppe' }, days: 3 });
    expect(rows.map((r) => [r.siteKey, r.task, r.runsInWindow])).toEqual([['acme/north-p1/weld', 'ppe', 3]]);
    expect(summary(snapshot, { filter: { site: 'beta/south-p2/dock' } }).map((r) => r.task)).toEqual(['ppe']);
  });

  it('takes a champion’s numbers from its latest finished benchmark only', () => {
    const later = (id: string, status: FleetRun['status']) => ({ ...runRecord(id, ACME, 'ppe', at(19, 20), 'yolov8s', { 'det.mAP50': 0.1 }, { type: 'infer', modelSource: `models:/${A_PPE}/2`, status }), model: null });
    const withFailed: FleetSnapshot = { ...snapshot, runs: [...snapshot.runs, later('f1', 'FAILED'), later('f2', 'RUNNING')] };
    const champion = summary(withFailed, { filter: { customer: 'acme', task: 'ppe' } })[0].champion;
    expect([champion?.measuredBy, champion?.metrics['det.mAP50']]).toEqual(['a3', 0.78]);
  });

  it('keeps the training’s GPU utilisation over a benchmark’s (the batch_up rule reads training), and takes the benchmark’s where training has none', () => {
    const trainedOnGpu = snapshot.runs.map((r) => (r.runId === 'a2' ? { ...r, metrics: { ...r.metrics, 'sys.gpu_util_pct': 35 } } : r.runId === 'a3' ? { ...r, metrics: { ...r.metrics, 'sys.gpu_util_pct': 90 } } : r));
    const champion = (runs: FleetRun[]) => summary({ ...snapshot, runs }, { filter: { customer: 'acme', task: 'ppe' } })[0].champion?.metrics;
    expect(champion(trainedOnGpu)).toEqual({ 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40, 'sys.gpu_util_pct': 35 });
    const benchmarkOnly = snapshot.runs.map((r) => (r.runId === 'a3' ? { ...r, metrics: { ...r.metrics, 'sys.gpu_util_pct': 90 } } : r));
    expect(champion(benchmarkOnly)?.['sys.gpu_util_pct']).toBe(90);
  });

  it('ranks candidates by mAP50 with unmeasured ones last', () => {
    const withTwo: FleetSnapshot = { ...snapshot, models: [...models, versionRecord(A_INT8, '2', 'none', ['candidate'], ACME, 'ppe', 'openvino_int8')] };
    expect(summary(withTwo, { filter: { task: 'ppe', customer: 'acme' } })[0].bestCandidate?.name).toBe(A_PPE);
  });
});

describe('trend', () => {
  it('lists one point per run, oldest first, champion runs marked (producer, benchmark and variant)', () => {
    const points = trend(snapshot, { filter: { customer: 'acme', task: 'ppe' }, metric: 'det.mAP50' });
    expect(points.map((p) => [p.runId, p.time, p.value, p.champion])).toEqual([
      ['a1', at(14, 10), 0.7, false],
      ['a2', at(16, 10), 0.8, true],
      ['a3', at(17, 9), 0.78, true],
      ['a4', at(17, 15), 0.84, false],
      ['a5', at(18, 10), 0.77, true],
      ['a6', at(19, 11), 0.74, false],
    ]);
  });

  it('leaves out runs without the metric and runs before the window', () => {
    expect(trend(snapshot, { filter: { customer: 'acme', task: 'ppe' }, metric: 'sys.latency_ms_p95' }).map((p) => [p.runId, p.value])).toEqual([
      ['a3', 35],
      ['a5', 12],
    ]);
    expect(trend(snapshot, { filter: { customer: 'acme', task: 'ppe' }, metric: 'det.mAP50', days: 3 }).map((p) => p.runId)).toEqual(['a4', 'a5', 'a6']);
  });

  it('groups by UTC day with mean, min, max and count', () => {
    const days = trendByDay(trend(snapshot, { filter: { customer: 'acme', task: 'ppe' }, metric: 'det.mAP50' }));
    expect(days.map((d) => [d.day, d.time, d.count, d.min, d.max, d.champion])).toEqual([
      ['2026-01-14', at(14, 0), 1, 0.7, 0.7, false],
      ['2026-01-16', at(16, 0), 1, 0.8, 0.8, true],
      ['2026-01-17', at(17, 0), 2, 0.78, 0.84, true],
      ['2026-01-18', at(18, 0), 1, 0.77, 0.77, true],
      ['2026-01-19', at(19, 0), 1, 0.74, 0.74, false],
    ]);
    expect(days[2].mean).toBeCloseTo(0.81, 10);
  });
});

describe('comparison', () => {
  it('puts architectures side by side: mean metrics, best run, champion', () => {
    const rows = comparison(snapshot, { filter: { site: 'acme/north-p1/weld', task: 'ppe' }, by: 'architecture' });
    expect(rows.map((r) => [r.key, r.runs, r.bestRunId, r.champion, r.metrics['sys.latency_ms_p95'], r.metrics['sys.fps']])).toEqual([
      ['yolov8s', 4, 'a4', true, 23.5, 40],
      ['yolov8n', 2, 'a6', false, undefined, undefined],
    ]);
    expect(rows[0].metrics['det.mAP50']).toBeCloseTo(0.7975, 10);
    expect(rows[1].metrics['det.mAP50']).toBeCloseTo(0.72, 10);
  });

  it('puts registered versions side by side with the numbers each is known by', () => {
    const rows = comparison(snapshot, { filter: { site: 'acme/north-p1/weld', task: 'ppe' }, by: 'version' });
    expect(rows.map((r) => [r.key, r.aliases, r.runs, r.bestRunId, r.champion, r.metrics])).toEqual([
      [`${A_PPE}/3`, ['candidate'], 1, 'a4', false, { 'det.mAP50': 0.84 }],
      [`${A_PPE}/2`, ['champion'], 2, 'a3', true, { 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40 }],
      [`${A_PPE}/1`, ['rollback'], 1, 'a1', false, { 'det.mAP50': 0.7 }],
      [`${A_INT8}/1`, ['champion'], 1, 'a5', true, { 'det.mAP50': 0.77, 'sys.latency_ms_p95': 12 }],
    ]);
  });
});

describe('alerts', () => {
  it('raises the default rules: low mAP50 (0.75), latency p95 (30 ms), a drop of more than 0.02 below the previous champion, no run in 7 days', () => {
    const found = alerts(snapshot, NO_RULES_FILE);
    expect(found.map((a) => [a.severity, a.rule, a.siteKey, a.task, a.model, a.version, a.threshold])).toEqual([
      ['critical', 'LOW_ACCURACY', 'acme/north-p1/weld', 'fall', 'acme.north-p1.weld.fall', '1', 0.75],
      ['warning', 'HIGH_LATENCY', 'acme/north-p1/weld', 'ppe', A_PPE, '2', 30],
      ['warning', 'ACCURACY_DROP', 'beta/south-p2/dock', 'ppe', 'beta.south-p2.dock.ppe', '4', 0.02],
      ['info', 'NO_RECENT_RUN', 'acme/north-p1/weld', 'fall', null, null, 7],
    ]);
    expect(found.map((a) => a.value)).toEqual([0.6, 35, expect.closeTo(0.05, 10), 15]);
    expect(found.map((a) => a.message)).toEqual([
      'acme.north-p1.weld.fall v1: mAP50 0.600 below 0.75',
      `${A_PPE} v2: latency p95 35.0 ms above 30 ms`,
      'beta.south-p2.dock.ppe v4: mAP50 0.900 is 0.050 below the previous champion v3 (0.950)',
      'no run for 15 days (last 2026-01-05)',
    ]);
  });

  it('applies a file’s defaults and overrides in order: thresholds, severities, rules switched off', () => {
    const rules = parseAlertRules(`
defaults:
  low_accuracy: { below: 0.65, severity: warning }
  no_recent_run: { days: 20 }
overrides:
  - match: { customer: acme, task: ppe }
    high_latency: { enabled: false }
  - match: { site: beta/south-p2/dock }
    accuracy_drop: { above: 0.1 }
    low_accuracy: { below: 0.92 }
`);
    expect(alerts(snapshot, rules).map((a) => [a.severity, a.rule, a.siteKey, a.task, a.threshold])).toEqual([
      ['warning', 'LOW_ACCURACY', 'acme/north-p1/weld', 'fall', 0.65],
      ['warning', 'LOW_ACCURACY', 'beta/south-p2/dock', 'ppe', 0.92],
    ]);
  });

  it('judges each variant champion too, and counts idle days from the given time', () => {
    const rules = parseAlertRules('defaults: { high_latency: { above_ms: 10 } }');
    const found = alerts(snapshot, rules, { filter: { customer: 'acme', task: 'ppe' }, now: at(28, 12) });
    expect(found.map((a) => [a.rule, a.model, a.value])).toEqual([
      ['HIGH_LATENCY', A_PPE, 35],
      ['HIGH_LATENCY', A_INT8, 12],
      ['NO_RECENT_RUN', null, 9],
    ]);
  });
});
