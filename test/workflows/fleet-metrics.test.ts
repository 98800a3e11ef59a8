import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';
import { FleetStore, summary, type FleetSource, type SummaryRow } from '../../fleet';
import { experimentName, runName } from '../../scenarios/naming';
import { scenarioTags } from '../../scenarios/tracking-fields';
import { gflowPrinted } from '../support/cli';
import { ALPHA, at, BETA, DOCK, GAMMA, KILN, LAB, MINE, PAINT, scenarioOf, SITES, utcDay, WELD, writeTestFleet, YARD, type WrittenFleet } from '../support/fleet-fixture';

/**
 * The fleet of test/support/fleet-fixture.ts (6 sites × 2 tasks in the test stack's real MLflow
 * over simulated days) through the store, the queries and the CLI. The expected numbers below
 * are the ones the fixture writes, not computed.
 */

jest.setTimeout(120_000);

const settings = loadSettings();
const mlflow = new MlflowClient(settings.mlflow.url);

/** A FleetSource over the real client that counts its run searches and the runs of this test's customers they returned. */
function counting(client: MlflowClient) {
  const counts = { calls: 0, runSearches: 0, mineReturned: 0 };
  const source: FleetSource = {
    searchExperiments: (viewType) => {
      counts.calls++;
      return client.searchExperiments(viewType);
    },
    searchRegisteredModels: (filter) => {
      counts.calls++;
      return client.searchRegisteredModels(filter);
    },
    searchModelVersions: (filter) => {
      counts.calls++;
      return client.searchModelVersions(filter);
    },
    searchRunsPage: async (args) => {
      counts.calls++;
      counts.runSearches++;
      const page = await client.searchRunsPage(args);
      counts.mineReturned += page.runs.filter((r) => r.data.tags?.some((t) => t.key === 'site.customer' && MINE.has(t.value))).length;
      return page;
    },
  };
  return { source, counts };
}

/** Runs `gflow <args>` in this process; returns what it printed. */
const gflow = (...args: string[]) => gflowPrinted(settings, ...args);

let dir: string;
let cacheFile: string;
let first: ReturnType<typeof counting>;
let store: FleetStore;
let fleet: WrittenFleet;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-fleet-'));
  cacheFile = path.join(dir, 'cache', 'fleet.json');
  fleet = await writeTestFleet(mlflow);
  first = counting(mlflow);
  store = new FleetStore({ mlflow: first.source, cacheFile, mlflowUrl: settings.mlflow.url });
});

/** [site, task, champion version, its mAP50, its latency p95, runs in 7 days, best candidate version] as written above. */
const EXPECTED_SUMMARY = [
  [WELD, 'fall', '2', 0.82, 20, 4, '3'],
  [WELD, 'ppe', '2', 0.82, 20, 5, '3'],
  [PAINT, 'fall', '2', 0.82, 45, 4, '3'],
  [PAINT, 'ppe', '2', 0.82, 20, 4, '3'],
  [DOCK, 'fall', '2', 0.82, 20, 4, '3'],
  [DOCK, 'ppe', '2', 0.72, 20, 4, '3'],
  [YARD, 'fall', '2', 0.82, 20, 4, '3'],
  [YARD, 'ppe', '2', 0.82, 20, 4, '3'],
  [KILN, 'fall', '2', 0.82, 20, 5, '3'],
  [KILN, 'ppe', null, null, null, 1, '1'],
  [LAB, 'fall', '2', 0.82, 20, 0, '3'],
  [LAB, 'ppe', '2', 0.82, 20, 4, '3'],
].sort((a, b) => String(a[0]).localeCompare(String(b[0])) || String(a[1]).localeCompare(String(b[1])));

const shape = (rows: SummaryRow[]) =>
  rows.filter((r) => MINE.has(r.site.customer)).map((r) => [r.siteKey, r.task, r.champion?.version ?? null, r.champion?.metrics['det.mAP50'] ?? null, r.champion?.metrics['sys.latency_ms_p95'] ?? null, r.runsInWindow, r.bestCandidate?.version ?? null]);

it('reads the fleet in full, then answers summary from records: champions with their benchmark, candidates, runs in the window', async () => {
  const result = await store.refresh();
  expect(result.mode).toBe('full');
  const mine = result.snapshot.runs.filter((r) => MINE.has(r.site.customer));
  expect(mine).toHaveLength(4 * 12 + 1 - 3 + 1);
  expect(shape(summary(result.snapshot, { days: 7 }))).toEqual(EXPECTED_SUMMARY);
  const bench = result.snapshot.runs.find((r) => r.runId === fleet.written.get(`${DOCK} ppe`)![2])!;
  expect([bench.type, bench.architecture, bench.modelSource, bench.metrics]).toEqual([
    'infer',
    'yolov8s',
    `models:/${BETA}.south-p1.dock.ppe/2`,
    { 'det.mAP50': 0.72, 'sys.latency_ms_p50': 15, 'sys.latency_ms_p95': 20, 'sys.fps': 60, 'sys.gpu_util_pct': 55 },
  ]);
  const champion = result.snapshot.runs.find((r) => r.runId === fleet.written.get(`${DOCK} ppe`)![1])!;
  expect(champion.model).toEqual({ name: `${BETA}.south-p1.dock.ppe`, version: '2', aliases: ['champion'] });
});

it('gflow metrics summary prints the same numbers as JSON and as a table', async () => {
  const json = JSON.parse(await gflow('metrics', 'summary', '--customer', BETA, '--json')) as SummaryRow[];
  expect(shape(json)).toEqual(EXPECTED_SUMMARY.filter((r) => String(r[0]).startsWith(`${BETA}/`)));
  const table = (await gflow('metrics', 'summary', '--customer', BETA, '--task', 'ppe')).split('\n');
  expect(table[0]).toMatch(/^site +task +champion +mAP50 +p95 ms +fps +runs 7d +last run +best candidate/);
  expect(table.slice(1, 3).map((line) => line.split(/ {2,}/).slice(0, 7))).toEqual([
    [DOCK, 'ppe', 'v2', '0.720', '20.0', '60.0', '4'],
    [YARD, 'ppe', 'v2', '0.820', '20.0', '60.0', '4'],
  ]);
  expect(table[3]).toBe('2 site tasks');
});

it('gflow metrics trend gives one site task’s mAP50 per run and per day, champion runs marked', async () => {
  const base = ['metrics', 'trend', '--customer', ALPHA, '--site', WELD, '--task', 'ppe', '--metric', 'mAP50', '--json'];
  const perRun = JSON.parse(await gflow(...base)) as { metric: string; points: { time: number; value: number; champion: boolean }[] };
  expect(perRun.metric).toBe('det.mAP50');
  expect(perRun.points.map((p) => [p.time, p.value, p.champion])).toEqual([
    [at(6, 9), 0.7, false],
    [at(4, 9), 0.8, true],
    [at(4, 15), 0.76, false],
    [at(3, 9), 0.82, true],
    [at(1, 9), 0.85, false],
  ]);
  const perDay = JSON.parse(await gflow(...base, '--by', 'day')) as { points: { day: string; mean: number; min: number; max: number; count: number; champion: boolean }[] };
  expect(perDay.points.map((d) => [d.day, d.count, d.min, d.max, d.champion])).toEqual([
    [utcDay(at(6, 9)), 1, 0.7, 0.7, false],
    [utcDay(at(4, 9)), 2, 0.76, 0.8, true],
    [utcDay(at(3, 9)), 1, 0.82, 0.82, true],
    [utcDay(at(1, 9)), 1, 0.85, 0.85, false],
  ]);
  expect(perDay.points[1].mean).toBeCloseTo(0.78, 10);
});

it('gflow metrics compare puts the architectures of a site task side by side', async () => {
  const rows = JSON.parse(await gflow('metrics', 'compare', '--site', WELD, '--task', 'ppe', '--json')) as { key: string; runs: number; metrics: Record<string, number>; champion: boolean }[];
  expect(rows.map((r) => [r.key, r.runs, r.champion, r.metrics['sys.latency_ms_p95'] ?? null])).toEqual([
    ['yolov8s', 3, true, 20],
    ['yolov8n', 2, false, null],
  ]);
  expect(rows[0].metrics['det.mAP50']).toBeCloseTo((0.8 + 0.82 + 0.85) / 3, 10);
  expect(rows[1].metrics['det.mAP50']).toBeCloseTo((0.7 + 0.76) / 2, 10);
});

it('gflow alerts list applies the rules file: every rule fires where the data says, with its severity', async () => {
  const rules = path.join(dir, 'alerts.yaml');
  await writeFile(rules, `overrides:\n  - match: { customer: ${ALPHA}, task: ppe }\n    low_accuracy: { below: 0.83 }\n`);
  const found = (JSON.parse(await gflow('alerts', 'list', '--rules', rules, '--json')) as { rule: string; severity: string; siteKey: string; site: { customer: string }; task: string; value: number; threshold: number }[]).filter((a) =>
    MINE.has(a.site.customer),
  );
  expect(found.map((a) => [a.severity, a.rule, a.siteKey, a.task, a.threshold])).toEqual([
    ['critical', 'LOW_ACCURACY', WELD, 'ppe', 0.83],
    ['critical', 'LOW_ACCURACY', PAINT, 'ppe', 0.83],
    ['critical', 'LOW_ACCURACY', DOCK, 'ppe', 0.75],
    ['warning', 'HIGH_LATENCY', PAINT, 'fall', 30],
    ['warning', 'ACCURACY_DROP', DOCK, 'ppe', 0.02],
    ['info', 'NO_RECENT_RUN', LAB, 'fall', 7],
  ]);
  expect(found.map((a) => a.value)).toEqual([0.82, 0.82, 0.72, 45, expect.closeTo(0.18, 10), 9]);
  await expect(gflow('alerts', 'list', '--rules', path.join(dir, 'none.yaml'))).rejects.toThrow(/none\.yaml: invalid alert rules\n {2}- \(file\): cannot read file \(ENOENT\)/);
});

it('gflow metrics export writes parquet and CSV that pyarrow reads back with the written values', async () => {
  const out = path.join(dir, 'export');
  expect(await gflow('metrics', 'export', '--format', 'parquet', '--output', out)).toMatch(/fleet-runs\.parquet: \d+ runs$/);
  expect(await gflow('metrics', 'export', '--format', 'csv', '--output', out)).toMatch(/fleet-runs\.csv: \d+ runs$/);
  const script = `
import json, sys
import pyarrow.parquet as pq, pyarrow.csv as pc
mine, beta = set(sys.argv[3:]), sys.argv[4]
for t in (pq.read_table(sys.argv[1]), pc.read_csv(sys.argv[2])):
    rows = [r for r in t.to_pylist() if r['customer'] in mine]
    dock = sorted((r for r in rows if r['customer'] == beta and r['zone'] == 'dock' and r['task'] == 'ppe'), key=lambda r: r['start_time'])
    print(json.dumps({'rows': len(rows), 'dock': [[r['type'], r['architecture'], None if r['model_version'] is None else str(r['model_version']), r['model_aliases'] or None, r['det.mAP50'], r['sys.latency_ms_p95']] for r in dock]}))
`;
  const { stdout } = await promisify(execFile)(settings.python, ['-c', script, path.join(out, 'fleet-runs.parquet'), path.join(out, 'fleet-runs.csv'), ALPHA, BETA, GAMMA]);
  const dock = [
    ['train', 'yolov8n', '1', 'rollback', 0.9, null],
    ['train', 'yolov8s', '2', 'champion', 0.8, null],
    ['infer', 'yolov8s', null, null, 0.72, 20],
    ['train', 'yolov8s', '3', 'candidate', 0.85, null],
  ];
  expect(stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
    { rows: 47, dock },
    { rows: 47, dock },
  ]);
});

it('refreshes incrementally: a second store reads the cache from disk and fetches only new and still-running runs', async () => {
  const second = counting(mlflow);
  const again = new FleetStore({ mlflow: second.source, cacheFile, mlflowUrl: settings.mlflow.url });
  const cached = await again.cached();
  expect(cached?.runs.filter((r) => MINE.has(r.site.customer))).toHaveLength(47);
  expect(second.counts).toEqual({ calls: 0, runSearches: 0, mineReturned: 0 });

  // a new run today, and the running run ends with its final number
  const scenario = scenarioOf(SITES[0], 'ppe', { type: 'train', arch: 'yolov8m', daysAgo: 0, hour: 0, metrics: {} }, 9);
  const experiment = await mlflow.getExperimentByName(experimentName(scenario));
  const fresh = await mlflow.createRun({ experimentId: experiment!.experiment_id, runName: runName(scenario), startTime: Date.now(), tags: Object.entries(scenarioTags(scenario)).map(([k, value]) => ({ key: k, value })) });
  await mlflow.logBatch(fresh.run_id, { metrics: [{ key: 'det.mAP50', value: 0.88, timestamp: Date.now(), step: 0 }] });
  await mlflow.updateRun(fresh.run_id, 'FINISHED', Date.now());
  await mlflow.logBatch(fleet.runningRunId, { metrics: [{ key: 'det.mAP50', value: 0.66, timestamp: Date.now(), step: 1 }] });
  await mlflow.updateRun(fleet.runningRunId, 'FINISHED', Date.now());

  const result = await again.refresh();
  expect(result.mode).toBe('incremental');
  const mine = result.snapshot.runs.filter((r) => MINE.has(r.site.customer));
  expect(mine).toHaveLength(48);
  expect(mine.find((r) => r.runId === fresh.run_id)?.metrics).toEqual({ 'det.mAP50': 0.88 });
  expect(mine.find((r) => r.runId === fleet.runningRunId)).toEqual(expect.objectContaining({ status: 'FINISHED', metrics: { 'det.mAP50': 0.66 } }));
  // the full read fetched every run; this one the new run, the one that was running, and those
  // sharing the newest start held (read again so that a run of the same millisecond is not lost)
  const newest = Math.max(...cached!.runs.map((r) => r.startTime));
  const atNewest = cached!.runs.filter((r) => r.startTime === newest && MINE.has(r.site.customer)).length;
  expect(first.counts.mineReturned).toBe(47);
  expect(second.counts.mineReturned).toBe(2 + atNewest);
  expect(second.counts.runSearches).toBeLessThanOrEqual(3);
  expect(shape(summary(result.snapshot, { filter: { site: WELD, task: 'ppe' } }))).toEqual([[WELD, 'ppe', '2', 0.82, 20, 6, '3']]);
});
