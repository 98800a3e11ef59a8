import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createTrackingActivities } from '../../activities/tracking/activities';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { buildProgram } from '../../cli/gflow';
import { loadSettings } from '../../common/settings';
import { FleetStore, summary, type FleetSource, type SummaryRow } from '../../fleet';
import { parseScenarioText } from '../../scenarios/loader';
import { experimentName, registeredModelName, runName } from '../../scenarios/naming';
import { scenarioParams, scenarioTags } from '../../scenarios/tracking-fields';

/**
 * A fleet of 6 sites × 2 tasks recorded in the test stack's real MLflow over simulated days (no
 * training): per site task a yolov8n run (v1, rollback), a yolov8s run (v2, champion), a
 * benchmark of v2, a newer yolov8s run (v3, candidate), with a few sites bent so that every
 * alert rule fires once. The expected numbers below are the ones written, not computed.
 */

jest.setTimeout(120_000);

const settings = loadSettings();
const mlflow = new MlflowClient(settings.mlflow.url);
const tracking = createTrackingActivities({ mlflow });

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
/** Midnight UTC today: runs sit at whole hours of earlier days, so each day's runs stay on their day. */
const MIDNIGHT = Math.floor(Date.now() / DAY) * DAY;
const at = (daysAgo: number, hour: number) => MIDNIGHT - daysAgo * DAY + hour * HOUR;
const utcDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Fresh customer names per test run, in case the stack is reused. */
const tag = Date.now().toString(36);
const ALPHA = `alpha-${tag}`;
const BETA = `beta-${tag}`;
const GAMMA = `gamma-${tag}`;
const MINE = new Set([ALPHA, BETA, GAMMA]);

const SITES = [
  { customer: ALPHA, region: 'north', plant: 'p1', zone: 'weld' },
  { customer: ALPHA, region: 'north', plant: 'p2', zone: 'paint' },
  { customer: BETA, region: 'south', plant: 'p1', zone: 'dock' },
  { customer: BETA, region: 'south', plant: 'p1', zone: 'yard' },
  { customer: GAMMA, region: 'east', plant: 'p1', zone: 'kiln' },
  { customer: GAMMA, region: 'east', plant: 'p3', zone: 'lab' },
];
type SiteSpec = (typeof SITES)[number];
const key = (s: SiteSpec) => `${s.customer}/${s.region}-${s.plant}/${s.zone}`;
const [WELD, PAINT, DOCK, YARD, KILN, LAB] = SITES.map(key);

interface RunSpec {
  type: 'train' | 'infer';
  arch: string;
  daysAgo: number;
  hour: number;
  metrics: Record<string, number>;
  /** Registered as the next version of the site task's model. */
  register?: boolean;
  /** A benchmark of this version of the site task's model. */
  measures?: number;
  running?: boolean;
}

/** The runs of one site task; the usual shape, bent by `overrides`. */
function runsOf(site: SiteSpec, task: string): RunSpec[] {
  const usual: RunSpec[] = [
    { type: 'train', arch: 'yolov8n', daysAgo: 6, hour: 9, metrics: { 'det.mAP50': 0.7 }, register: true },
    { type: 'train', arch: 'yolov8s', daysAgo: 4, hour: 9, metrics: { 'det.mAP50': 0.8 }, register: true },
    { type: 'infer', arch: 'yolov8s', daysAgo: 3, hour: 9, metrics: { 'det.mAP50': 0.82, 'sys.latency_ms_p50': 15, 'sys.latency_ms_p95': 20, 'sys.fps': 60, 'sys.gpu_util_pct': 55 }, measures: 2 },
    { type: 'train', arch: 'yolov8s', daysAgo: 1, hour: 9, metrics: { 'det.mAP50': 0.85 }, register: true },
  ];
  const s = key(site);
  if (s === WELD && task === 'ppe') usual.splice(2, 0, { type: 'train', arch: 'yolov8n', daysAgo: 4, hour: 15, metrics: { 'det.mAP50': 0.76 } });
  if (s === PAINT && task === 'fall') usual[2].metrics['sys.latency_ms_p95'] = 45;
  if (s === DOCK && task === 'ppe') {
    usual[0].metrics['det.mAP50'] = 0.9;
    usual[2].metrics['det.mAP50'] = 0.72;
  }
  if (s === KILN && task === 'ppe') return [usual[0]];
  if (s === KILN && task === 'fall') usual.push({ type: 'train', arch: 'yolov8m', daysAgo: 2, hour: 9, metrics: { 'det.mAP50': 0.5 }, running: true });
  if (s === LAB && task === 'fall') return usual.map((r) => ({ ...r, daysAgo: r.daysAgo + 8, hour: 0 }));
  return usual;
}

function scenarioOf(site: SiteSpec, task: string, run: RunSpec, index: number) {
  const weights = run.measures ? `models:/${site.customer}.${site.region}-${site.plant}.${site.zone}.${task}/${run.measures}` : 'null';
  const block = run.type === 'train' ? 'training: { epochs: 1, batch_size: 8, learning_rate: 0.01 }' : 'benchmark: { batch_sizes: [1] }';
  return parseScenarioText(`
name: fleet
version: f${index}
type: ${run.type}
site: { customer: ${site.customer}, region: ${site.region}, plant: ${site.plant}, zone: ${site.zone} }
task: { type: ${task}, classes: [helmet] }
model: { architecture: ${run.arch}.yaml, input_size: 64, weights: ${weights} }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
${block}
`);
}

/** Run ids by site task, in the order written. */
const written = new Map<string, string[]>();
let runningRunId = '';

async function writeSiteTask(site: SiteSpec, task: string): Promise<void> {
  const specs = runsOf(site, task);
  const first = scenarioOf(site, task, specs[0], 0);
  const experimentId = await mlflow.ensureExperiment(experimentName(first));
  const model = registeredModelName(first);
  const ids: string[] = [];
  const versions: string[] = [];
  for (const [i, spec] of specs.entries()) {
    const scenario = scenarioOf(site, task, spec, i);
    const start = at(spec.daysAgo, spec.hour);
    const measured = spec.measures ? { 'model.source': `models:/${model}/${spec.measures}` } : {};
    const info = await mlflow.createRun({ experimentId, runName: runName(scenario), startTime: start, tags: Object.entries({ ...scenarioTags(scenario), ...measured }).map(([k, value]) => ({ key: k, value })) });
    await tracking.logBatch({ runId: info.run_id, params: scenarioParams(scenario) });
    await mlflow.logBatch(info.run_id, { metrics: Object.entries(spec.metrics).map(([k, value]) => ({ key: k, value, timestamp: start, step: 0 })) });
    if (spec.running) runningRunId = info.run_id;
    else await mlflow.updateRun(info.run_id, 'FINISHED', start + 10 * 60 * 1000);
    if (spec.register) versions.push((await tracking.registerModel({ name: model, runId: info.run_id, source: `${info.artifact_uri}/weights/best.pt`, alias: 'candidate' })).version);
    ids.push(info.run_id);
  }
  // promotions as the registry workflow leaves them: v2 champion, v1 rollback, v3 still candidate
  if (versions.length === 3) {
    await mlflow.setAlias(model, 'champion', versions[1]);
    await mlflow.setAlias(model, 'rollback', versions[0]);
  }
  written.set(`${key(site)} ${task}`, ids);
}

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
async function gflow(...args: string[]): Promise<string> {
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
  try {
    await buildProgram(settings).parseAsync(['node', 'gflow', ...args]);
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}

let dir: string;
let cacheFile: string;
let first: ReturnType<typeof counting>;
let store: FleetStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-fleet-'));
  cacheFile = path.join(dir, 'cache', 'fleet.json');
  await Promise.all(SITES.flatMap((site) => ['ppe', 'fall'].map((task) => writeSiteTask(site, task))));
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
  const bench = result.snapshot.runs.find((r) => r.runId === written.get(`${DOCK} ppe`)![2])!;
  expect([bench.type, bench.architecture, bench.modelSource, bench.metrics]).toEqual([
    'infer',
    'yolov8s',
    `models:/${BETA}.south-p1.dock.ppe/2`,
    { 'det.mAP50': 0.72, 'sys.latency_ms_p50': 15, 'sys.latency_ms_p95': 20, 'sys.fps': 60, 'sys.gpu_util_pct': 55 },
  ]);
  const champion = result.snapshot.runs.find((r) => r.runId === written.get(`${DOCK} ppe`)![1])!;
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
  await mlflow.logBatch(runningRunId, { metrics: [{ key: 'det.mAP50', value: 0.66, timestamp: Date.now(), step: 1 }] });
  await mlflow.updateRun(runningRunId, 'FINISHED', Date.now());

  const result = await again.refresh();
  expect(result.mode).toBe('incremental');
  const mine = result.snapshot.runs.filter((r) => MINE.has(r.site.customer));
  expect(mine).toHaveLength(48);
  expect(mine.find((r) => r.runId === fresh.run_id)?.metrics).toEqual({ 'det.mAP50': 0.88 });
  expect(mine.find((r) => r.runId === runningRunId)).toEqual(expect.objectContaining({ status: 'FINISHED', metrics: { 'det.mAP50': 0.66 } }));
  // the full read fetched every run; this one the new run, the one that was running, and those
  // sharing the newest start held (read again so that a run of the same millisecond is not lost)
  const newest = Math.max(...cached!.runs.map((r) => r.startTime));
  const atNewest = cached!.runs.filter((r) => r.startTime === newest && MINE.has(r.site.customer)).length;
  expect(first.counts.mineReturned).toBe(47);
  expect(second.counts.mineReturned).toBe(2 + atNewest);
  expect(second.counts.runSearches).toBeLessThanOrEqual(3);
  expect(shape(summary(result.snapshot, { filter: { site: WELD, task: 'ppe' } }))).toEqual([[WELD, 'ppe', '2', 0.82, 20, 6, '3']]);
});
