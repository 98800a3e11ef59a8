import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { NO_RULES_FILE } from '../../fleet/alert-rules';
import { ApiPath } from '../../server/api-paths';
import { buildFleetServer } from '../../server/app';
import { A_INT8, A_PPE, at, NOW, snapshot } from '../support/hand-fleet';

/**
 * The HTTP API over the hand-built fleet of test/support/hand-fleet.ts (the expected numbers
 * of fleet-queries.test.ts, written here as literals): each route answers what the query functions
 * answer there, a bad parameter is a 400 naming it, and the OpenAPI and Prometheus outputs
 * describe every route and site task.
 */

const LINKS = { mlflowUrl: 'http://mlflow.test:5000', temporalUiUrl: 'http://temporal.test:8233', namespace: 'gf' };

let app: FastifyInstance;
let snapshotCalls = 0;

beforeAll(async () => {
  app = await buildFleetServer({
    snapshot: () => {
      snapshotCalls++;
      return Promise.resolve(snapshot);
    },
    rules: NO_RULES_FILE,
    links: LINKS,
    now: () => NOW + 90_000,
    pool: (pool) => Promise.resolve({ pool: pool ?? 'default', queue: `guardianflow-gpu-${pool ?? 'default'}`, readAt: new Date(NOW).toISOString(), hosts: [], slots: { total: 0, busy: 0 }, waiting: [], waitingBy: [], held: [] }),
  });
});
afterAll(() => app.close());

async function get(url: string): Promise<{ status: number; body: unknown; type: string | undefined }> {
  const res = await app.inject({ method: 'GET', url });
  const type = res.headers['content-type'] as string | undefined;
  return { status: res.statusCode, body: type?.startsWith('application/json') ? res.json() : res.body, type };
}

async function json<T>(url: string): Promise<T> {
  const res = await get(url);
  expect([url, res.status]).toEqual([url, 200]);
  return res.body as T;
}

interface Row {
  siteKey: string;
  task: string;
  champion: { version: string; measuredBy: string | null; metrics: Record<string, number> } | null;
  variantChampions: { name: string; version: string; metrics: Record<string, number> }[];
  bestCandidate: { version: string } | null;
  runsInWindow: number;
  lastRunAt: number | null;
}

describe('fleet API routes', () => {
  it('summary: each site task with its champion, variant champions, best candidate and runs in the window', async () => {
    const rows = await json<Row[]>(`${ApiPath.summary}?days=7`);
    expect(rows.map((r) => [r.siteKey, r.task, r.champion?.version, r.champion?.measuredBy, r.champion?.metrics, r.variantChampions.map((v) => [v.name, v.version, v.metrics]), r.bestCandidate?.version ?? null, r.runsInWindow, r.lastRunAt])).toEqual([
      ['acme/north-p1/weld', 'fall', '1', null, { 'det.mAP50': 0.6 }, [], null, 0, at(5, 8)],
      ['acme/north-p1/weld', 'ppe', '2', 'a3', { 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40 }, [[A_INT8, '1', { 'det.mAP50': 0.77, 'sys.latency_ms_p95': 12 }]], '3', 6, at(19, 11)],
      ['beta/south-p2/dock', 'ppe', '4', null, { 'det.mAP50': 0.9 }, [], null, 1, at(19, 8)],
    ]);
    const filtered = await json<Row[]>(`${ApiPath.summary}?customer=acme&task=ppe&days=3`);
    expect(filtered.map((r) => [r.siteKey, r.task, r.runsInWindow])).toEqual([['acme/north-p1/weld', 'ppe', 3]]);
    expect((await json<Row[]>(`${ApiPath.summary}?site=${encodeURIComponent('beta/south-p2/dock')}`)).map((r) => r.task)).toEqual(['ppe']);
  });

  it('trend: per run with champions marked, per UTC day, and within a window', async () => {
    const byRun = await json<{ metric: string; by: string; points: { runId: string; time: number; value: number; champion: boolean }[] }>(`${ApiPath.trend}?customer=acme&task=ppe&metric=mAP50`);
    expect([byRun.metric, byRun.by]).toEqual(['det.mAP50', 'run']);
    expect(byRun.points.map((p) => [p.runId, p.time, p.value, p.champion])).toEqual([
      ['a1', at(14, 10), 0.7, false],
      ['a2', at(16, 10), 0.8, true],
      ['a3', at(17, 9), 0.78, true],
      ['a4', at(17, 15), 0.84, false],
      ['a5', at(18, 10), 0.77, true],
      ['a6', at(19, 11), 0.74, false],
    ]);
    const byDay = await json<{ by: string; points: { day: string; time: number; count: number; min: number; max: number; mean: number; champion: boolean }[] }>(`${ApiPath.trend}?customer=acme&task=ppe&metric=det.mAP50&by=day`);
    expect(byDay.by).toBe('day');
    expect(byDay.points.map((d) => [d.day, d.time, d.count, d.min, d.max, d.champion])).toEqual([
      ['2026-01-14', at(14, 0), 1, 0.7, 0.7, false],
      ['2026-01-16', at(16, 0), 1, 0.8, 0.8, true],
      ['2026-01-17', at(17, 0), 2, 0.78, 0.84, true],
      ['2026-01-18', at(18, 0), 1, 0.77, 0.77, true],
      ['2026-01-19', at(19, 0), 1, 0.74, 0.74, false],
    ]);
    expect(byDay.points[2].mean).toBeCloseTo(0.81, 10);
    const windowed = await json<{ points: { runId: string }[] }>(`${ApiPath.trend}?customer=acme&task=ppe&metric=det.mAP50&days=3`);
    expect(windowed.points.map((p) => p.runId)).toEqual(['a4', 'a5', 'a6']);
  });

  it('comparison: architectures (the default) and registered versions side by side', async () => {
    const site = encodeURIComponent('acme/north-p1/weld');
    const archs = await json<{ key: string; runs: number; bestRunId: string; champion: boolean; metrics: Record<string, number> }[]>(`${ApiPath.comparison}?site=${site}&task=ppe`);
    expect(archs.map((r) => [r.key, r.runs, r.bestRunId, r.champion, r.metrics['sys.latency_ms_p95'], r.metrics['sys.fps']])).toEqual([
      ['yolov8s', 4, 'a4', true, 23.5, 40],
      ['yolov8n', 2, 'a6', false, undefined, undefined],
    ]);
    expect(archs[0].metrics['det.mAP50']).toBeCloseTo(0.7975, 10);
    const versions = await json<{ key: string; aliases: string[]; runs: number; bestRunId: string; champion: boolean; metrics: Record<string, number> }[]>(`${ApiPath.comparison}?site=${site}&task=ppe&by=version`);
    expect(versions.map((r) => [r.key, r.aliases, r.runs, r.bestRunId, r.champion, r.metrics])).toEqual([
      [`${A_PPE}/3`, ['candidate'], 1, 'a4', false, { 'det.mAP50': 0.84 }],
      [`${A_PPE}/2`, ['champion'], 2, 'a3', true, { 'det.mAP50': 0.78, 'sys.latency_ms_p95': 35, 'sys.fps': 40 }],
      [`${A_PPE}/1`, ['rollback'], 1, 'a1', false, { 'det.mAP50': 0.7 }],
      [`${A_INT8}/1`, ['champion'], 1, 'a5', true, { 'det.mAP50': 0.77, 'sys.latency_ms_p95': 12 }],
    ]);
  });

  it('alerts: the default rules, filtered by customer and task', async () => {
    const found = await json<{ severity: string; rule: string; siteKey: string; task: string; model: string | null; version: string | null; threshold: number; value: number | null; message: string }[]>(ApiPath.alerts);
    expect(found.map((a) => [a.severity, a.rule, a.siteKey, a.task, a.model, a.version, a.threshold])).toEqual([
      ['critical', 'LOW_ACCURACY', 'acme/north-p1/weld', 'fall', 'acme.north-p1.weld.fall', '1', 0.75],
      ['warning', 'HIGH_LATENCY', 'acme/north-p1/weld', 'ppe', A_PPE, '2', 30],
      ['warning', 'ACCURACY_DROP', 'beta/south-p2/dock', 'ppe', 'beta.south-p2.dock.ppe', '4', 0.02],
      ['info', 'NO_RECENT_RUN', 'acme/north-p1/weld', 'fall', null, null, 7],
    ]);
    expect(found.map((a) => a.message)).toEqual([
      'acme.north-p1.weld.fall v1: mAP50 0.600 below 0.75',
      `${A_PPE} v2: latency p95 35.0 ms above 30 ms`,
      'beta.south-p2.dock.ppe v4: mAP50 0.900 is 0.050 below the previous champion v3 (0.950)',
      'no run for 15 days (last 2026-01-05)',
    ]);
    const acmePpe = await json<{ rule: string }[]>(`${ApiPath.alerts}?customer=acme&task=ppe`);
    expect(acmePpe.map((a) => a.rule)).toEqual(['HIGH_LATENCY']);
  });

  it('health: MLflow reachable and the snapshot’s age; config: the link base URLs', async () => {
    expect(await json(ApiPath.health)).toEqual({ status: 'ok', mlflow: { url: LINKS.mlflowUrl, reachable: true }, snapshot: { readAt: NOW, ageSeconds: 90, runs: 9, models: 7 }, lastError: null });
    expect(await json(ApiPath.config)).toEqual(LINKS);
  });
});

describe('bad query parameters', () => {
  it.each([
    [`${ApiPath.summary}?task=helmet`, 'task', 'task: expected one of ppe, fall, fire, collision, stuck, got "helmet"'],
    [`${ApiPath.summary}?days=0`, 'days', 'days: expected a positive whole number of days, got "0"'],
    [`${ApiPath.summary}?days=1.5`, 'days', 'days: expected a positive whole number of days, got "1.5"'],
    [`${ApiPath.summary}?days=1&days=2`, 'days', 'days: expected a positive whole number of days, got ["1","2"]'],
    [`${ApiPath.summary}?customr=acme`, 'customr', 'customr: not a parameter of this query'],
    [`${ApiPath.trend}?customer=acme&task=ppe&metric=mAP5`, 'metric', 'metric: "mAP5" is not a fleet metric; did you mean det.mAP50? (one of det.mAP50, det.mAP50_95, det.precision, det.recall, sys.latency_ms, sys.latency_ms_p50, sys.latency_ms_p95, sys.fps, sys.gpu_util_pct, mot.hota, mot.deta, mot.assa, mot.mota, mot.motp, mot.idf1, mot.id_switches, mot.frag, mot.mt, mot.ml)'],
    [`${ApiPath.trend}?customer=acme&task=ppe`, 'metric', 'metric: required: one of det.mAP50, det.mAP50_95, det.precision, det.recall, sys.latency_ms, sys.latency_ms_p50, sys.latency_ms_p95, sys.fps, sys.gpu_util_pct, mot.hota, mot.deta, mot.assa, mot.mota, mot.motp, mot.idf1, mot.id_switches, mot.frag, mot.mt, mot.ml'],
    [`${ApiPath.trend}?task=ppe&metric=mAP50`, 'customer', 'give customer (or site): the query is about one site’s task'],
    [`${ApiPath.trend}?customer=acme&metric=mAP50`, 'task', 'give task: the query is about one site’s task'],
    [`${ApiPath.trend}?customer=acme&task=ppe&metric=mAP50&by=week`, 'by', 'by: expected one of run, day, got "week"'],
    [`${ApiPath.comparison}?site=a%2Fb-c%2Fd&task=ppe&by=dataset`, 'by', 'by: expected one of architecture, version, got "dataset"'],
    [`${ApiPath.alerts}?task=`, 'task', 'task: expected one of ppe, fall, fire, collision, stuck, got ""'],
  ])('%s → 400 naming %s', async (url, field, error) => {
    const before = snapshotCalls;
    const res = await get(url);
    expect([res.status, res.body]).toEqual([400, { error, field }]);
    expect(snapshotCalls).toBe(before);
  });
});

describe('OpenAPI and Prometheus', () => {
  it('documents every route, with each query’s parameters from the shared schemas', async () => {
    const doc = await json<{ openapi: string; paths: Record<string, { get: { parameters?: { name: string; in: string; required: boolean }[] } }> }>(ApiPath.openapi);
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual(Object.values(ApiPath).sort());
    const params = (p: string) => (doc.paths[p].get.parameters ?? []).map((q) => [q.name, q.in, q.required]);
    expect(params(ApiPath.summary)).toEqual([
      ['customer', 'query', false],
      ['site', 'query', false],
      ['task', 'query', false],
      ['days', 'query', false],
    ]);
    expect(params(ApiPath.trend)).toEqual([
      ['customer', 'query', false],
      ['site', 'query', false],
      ['task', 'query', false],
      ['metric', 'query', true],
      ['by', 'query', false],
      ['days', 'query', false],
    ]);
    expect(params(ApiPath.comparison).map(([name]) => name)).toEqual(['customer', 'site', 'task', 'by']);
    expect(params(ApiPath.alerts).map(([name]) => name)).toEqual(['customer', 'site', 'task']);
  });

  it('exposes per site × task gauges with customer, site and task labels', async () => {
    const res = await get(ApiPath.prometheus);
    expect([res.status, res.type]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    const samples = (res.body as string).split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(samples).toEqual([
      'gflow_fleet_champion_map50{customer="acme",site="acme/north-p1/weld",task="fall"} 0.6',
      'gflow_fleet_champion_map50{customer="acme",site="acme/north-p1/weld",task="ppe"} 0.78',
      'gflow_fleet_champion_map50{customer="beta",site="beta/south-p2/dock",task="ppe"} 0.9',
      'gflow_fleet_champion_latency_p95_ms{customer="acme",site="acme/north-p1/weld",task="ppe"} 35',
      'gflow_fleet_open_alerts{customer="acme",site="acme/north-p1/weld",task="fall"} 2',
      'gflow_fleet_open_alerts{customer="acme",site="acme/north-p1/weld",task="ppe"} 1',
      'gflow_fleet_open_alerts{customer="beta",site="beta/south-p2/dock",task="ppe"} 1',
      'gflow_fleet_snapshot_age_seconds 90',
    ]);
  });
});

describe('the fleet page', () => {
  it('is served from the public folder at /, beside the API', async () => {
    const publicDir = await mkdtemp(path.join(os.tmpdir(), 'gf-public-'));
    await writeFile(path.join(publicDir, 'index.html'), '<!doctype html><title>fleet</title>');
    await writeFile(path.join(publicDir, 'fleet.js'), 'export {};');
    const withPage = await buildFleetServer({ snapshot: () => Promise.resolve(snapshot), rules: NO_RULES_FILE, links: LINKS, publicDir });
    try {
      const page = await withPage.inject({ method: 'GET', url: '/' });
      expect([page.statusCode, page.headers['content-type'], page.body]).toEqual([200, 'text/html; charset=utf-8', '<!doctype html><title>fleet</title>']);
      expect((await withPage.inject({ method: 'GET', url: '/fleet.js' })).headers['content-type']).toBe('application/javascript; charset=utf-8');
      expect((await withPage.inject({ method: 'GET', url: ApiPath.config })).json()).toEqual(LINKS);
    } finally {
      await withPage.close();
    }
  });
});

describe(ApiPath.pool, () => {
  it('answers the pool view of the pool asked for (gflow pool --json), refuses other parameters, and is 503 without Temporal', async () => {
    expect(await json<{ pool: string; queue: string }>(`${ApiPath.pool}?pool=gpu-b`)).toEqual(expect.objectContaining({ pool: 'gpu-b', queue: 'guardianflow-gpu-gpu-b' }));
    expect(await json<{ pool: string }>(ApiPath.pool)).toEqual(expect.objectContaining({ pool: 'default' }));
    expect(await get(`${ApiPath.pool}?site=x`)).toEqual(expect.objectContaining({ status: 400 }));
    const bare = await buildFleetServer({ snapshot: () => Promise.resolve(snapshot), rules: NO_RULES_FILE, links: LINKS });
    try {
      const res = await bare.inject({ method: 'GET', url: ApiPath.pool });
      expect([res.statusCode, res.json()]).toEqual([503, { error: expect.stringMatching(/pool view is not available/) }]);
    } finally {
      await bare.close();
    }
  });
});
