import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import prand from 'pure-rand';
import { createTrackingActivities, logAll, RUN_KEY_TAG } from '../activities/tracking/activities';
import { filterLiteral, mlflowClientFor } from '../activities/tracking/mlflow-client';
import { Alias } from '../common/registry';
import { loadSettings } from '../common/settings';
import { alerts, comparison, CompareBy, FleetStore, NO_RULES_FILE, summary, trend, trendByDay, type FleetSnapshot } from '../fleet';
import { parseScenarioText } from '../scenarios/loader';
import { experimentName, registeredModelName, runName } from '../scenarios/naming';
import { TaskType, type Scenario } from '../scenarios/schema';
import { scenarioParams, scenarioTags } from '../scenarios/tracking-fields';
import { envInt, machineAtStart, REPO, round3, saveResults } from './bench-env';

/**
 * The fleet metrics store over a generated fleet (issue 8, "Done when"): 30 sites × 5 tasks ×
 * 40 runs = 6,000 MLflow runs (200 per site; the issue's "30 × 5 × 200" multiplies to 30,000,
 * its total of 6,000 is what is kept) over 30 simulated days, each site task with a registered
 * rollback (v1), champion (v2, measured by benchmark runs) and candidate (v3). Measures, on
 * the same MLflow server:
 * - the first full read of a FleetStore (empty cache) against the seeds' way, the MLflow Python
 *   client's `mlflow.search_runs` of the same experiments into a pandas DataFrame
 *   (bench/fleet_search_runs.py), interleaved, BENCH_REPEATS times, median;
 * - an incremental refresh after 50 new runs, then `summary` (BENCH_REPEATS rounds, median);
 * - a store restarted from its disk cache (`cached()`);
 * - each query on the snapshot (median of 5).
 * Generation is a step of its own, skipped for every site task whose champion is already set
 * (and resumed run by run, by `gf.run_key`, for one that was cut off): `npm run bench:fleet --
 * generate` only generates. The 50-run batches are deleted at the end (and at the start, should
 * an earlier bench have stopped half-way), so every bench reads the same 6,000 runs.
 * Needs the dev stack (`gflow dev up --no-workers`). Env: BENCH_REPEATS (3),
 * BENCH_CONCURRENCY (6: site tasks written at once).
 */

const REPEATS = envInt('BENCH_REPEATS', 3);
const CONCURRENCY = envInt('BENCH_CONCURRENCY', 6);
const QUERY_REPEATS = 5;
const CUSTOMERS = ['fb-donghwa', 'fb-sampyo', 'fb-duckwon', 'fb-hanil', 'fb-kumho', 'fb-posung'];
const ZONES = ['weld', 'paint', 'dock', 'yard', 'kiln'];
const TASKS = Object.values(TaskType);
const RUNS_PER_SITE_TASK = 40;
const DAYS = 30;
const ARCHITECTURES = ['yolov8n', 'yolov8s', 'yolov8m', 'yolo11n', 'yolo11s'];
/** Runs of each site task registered as v1, v2, v3 (rollback, champion, candidate), and benchmarks of v2. */
const REGISTERED = [30, 34, 38];
const MEASURES_V2 = new Set([36, 39]);
const EXTRA_RUNS = 50;
const EXTRA_TAG = 'bench.extra';
/** Run-to-run spread of one reader on this shared machine: "no slower" allows this much. */
const NOISE = 0.05;
const DAY_MS = 24 * 60 * 60 * 1000;

interface SiteSpec {
  customer: string;
  region: string;
  plant: string;
  zone: string;
}

const SITES: SiteSpec[] = CUSTOMERS.flatMap((customer) => ZONES.map((zone, i) => ({ customer, region: 'kr', plant: `p${i + 1}`, zone })));
const SITE_TASKS = SITES.flatMap((site) => TASKS.map((task) => ({ site, task })));

/** The product's names (scenarios/naming.ts) for a site and a task without a whole scenario. */
const experimentOf = (site: SiteSpec) => experimentName({ site });
const modelOf = (site: SiteSpec, task: string) => registeredModelName({ site, task: { type: task } } as Pick<Scenario, 'site' | 'task'>);

const settings = loadSettings();
const mlflow = mlflowClientFor(settings);
const tracking = createTrackingActivities({ mlflow });

/** A generator seeded by the run's place in the fleet: the same fleet every time it is generated. */
function rngOf(...parts: number[]) {
  const rng = prand.xoroshiro128plus(parts.reduce((seed, p) => (seed * 7919 + p) | 0, 17));
  return (lo: number, hi: number) => lo + (prand.unsafeUniformIntDistribution(0, 1_000_000, rng) / 1_000_000) * (hi - lo);
}

interface RunPlan {
  index: number;
  type: 'train' | 'infer';
  arch: string;
  start: number;
  metrics: Record<string, number>;
  /** `models:/name/2` for the benchmarks of the champion. */
  measures: string | null;
}

/** Run `index` of a site task: oldest first over DAYS days before `anchor`, a few hours apart. */
function planRun(siteIndex: number, taskIndex: number, index: number, anchor: number, model: string): RunPlan {
  const rand = rngOf(siteIndex, taskIndex, index);
  const measures = MEASURES_V2.has(index) ? `models:/${model}/2` : null;
  const type = REGISTERED.includes(index) ? 'train' : measures || rand(0, 1) < 0.2 ? 'infer' : 'train';
  const arch = ARCHITECTURES[Math.floor(rand(0, ARCHITECTURES.length)) % ARCHITECTURES.length];
  const daysAgo = DAYS - 1 - Math.floor((index * DAYS) / RUNS_PER_SITE_TASK);
  const start = Math.round(anchor - daysAgo * DAY_MS - rand(1, 20) * 60 * 60 * 1000);
  const map50 = Math.min(0.95, 0.62 + 0.04 * ARCHITECTURES.indexOf(arch) + (0.1 * index) / RUNS_PER_SITE_TASK + rand(-0.05, 0.05));
  const metrics: Record<string, number> =
    type === 'train'
      ? { 'det.mAP50': map50, 'det.mAP50_95': map50 * 0.62, 'det.precision': map50 + rand(0, 0.05), 'det.recall': map50 - rand(0, 0.05) }
      : { 'det.mAP50': map50, 'sys.latency_ms_p50': 8 + 4 * ARCHITECTURES.indexOf(arch) + rand(0, 4), 'sys.latency_ms_p95': 12 + 5 * ARCHITECTURES.indexOf(arch) + rand(0, 12), 'sys.fps': 40 + rand(0, 60), 'sys.gpu_util_pct': rand(30, 95) };
  return { index, type, arch, start, metrics, measures };
}

function scenarioOf(site: SiteSpec, task: string, plan: RunPlan, version: string) {
  const block = plan.type === 'train' ? 'training: { epochs: 100, batch_size: 16, learning_rate: 0.01 }' : 'benchmark: { batch_sizes: [1] }';
  return parseScenarioText(`
name: fleet-bench
version: ${version}
type: ${plan.type}
site: { customer: ${site.customer}, region: ${site.region}, plant: ${site.plant}, zone: ${site.zone} }
task: { type: ${task}, classes: [helmet, vest] }
model: { architecture: ${plan.arch}.yaml, input_size: 640, weights: ${plan.measures ?? (plan.type === 'infer' ? `/weights/${plan.arch}-candidate.pt` : 'null')} }
dataset: { path: /data/${site.customer}/${task}/data.yaml, version: v1 }
${block}
`);
}

/** One run as the product records it: created with its start time and tags, params and metrics in one log-batch, then finished. */
async function writeRun(experimentId: string, site: SiteSpec, task: string, plan: RunPlan, version: string, extraTags: Record<string, string>): Promise<{ runId: string; artifactUri: string }> {
  const scenario = scenarioOf(site, task, plan, version);
  const tags = { ...scenarioTags(scenario), ...(plan.measures ? { 'model.source': plan.measures } : {}), ...extraTags };
  const info = await mlflow.createRun({ experimentId, runName: runName(scenario), startTime: plan.start, tags: Object.entries(tags).map(([key, value]) => ({ key, value })) });
  await logAll(mlflow, { runId: info.run_id, params: scenarioParams(scenario), metrics: plan.metrics });
  await mlflow.updateRun(info.run_id, 'FINISHED', plan.start + 20 * 60 * 1000);
  return { runId: info.run_id, artifactUri: info.artifact_uri };
}

/** Site tasks whose champion is set: generated to the end (the alias is the last write). */
async function completeModels(): Promise<Set<string>> {
  const models = await mlflow.searchRegisteredModels(`name LIKE 'fb-%'`);
  return new Set(models.filter((m) => m.aliases?.some((a) => a.alias === Alias.champion)).map((m) => m.name));
}

/** Writes the runs of one site task that are not there yet (by run key), registers v1–v3 and sets the aliases. */
async function generateSiteTask(siteIndex: number, taskIndex: number, anchor: number): Promise<number> {
  const site = SITES[siteIndex];
  const task = TASKS[taskIndex];
  const model = modelOf(site, task);
  const experimentId = await mlflow.ensureExperiment(experimentOf(site));
  const existing = await mlflow.searchRuns({ experimentIds: [experimentId], filter: `tags.\`task.type\` = ${filterLiteral(task)}` });
  const byKey = new Map(existing.flatMap((r) => r.data.tags?.filter((t) => t.key === RUN_KEY_TAG).map((t) => [t.value, r.info]) ?? []));
  const written = new Map<number, { runId: string; artifactUri: string }>();
  let created = 0;
  for (let index = 0; index < RUNS_PER_SITE_TASK; index++) {
    const key = `fleet-bench/${model}/${index}`;
    const held = byKey.get(key);
    if (held) {
      written.set(index, { runId: held.run_id, artifactUri: held.artifact_uri });
      continue;
    }
    const plan = planRun(siteIndex, taskIndex, index, anchor, model);
    written.set(index, await writeRun(experimentId, site, task, plan, `g${index}`, { [RUN_KEY_TAG]: key }));
    created++;
  }
  const versions: string[] = [];
  for (const index of REGISTERED) {
    const run = written.get(index)!;
    versions.push((await tracking.registerModel({ name: model, runId: run.runId, source: `${run.artifactUri}/weights/best.pt`, alias: Alias.candidate })).version);
  }
  await mlflow.setAlias(model, Alias.rollback, versions[0]);
  await mlflow.setAlias(model, Alias.champion, versions[1]);
  return created;
}

async function generate(): Promise<{ seconds: number; runsCreated: number; siteTasksGenerated: number }> {
  const done = await completeModels();
  const todo = SITE_TASKS.map((st, i) => ({ ...st, siteIndex: Math.floor(i / TASKS.length), taskIndex: i % TASKS.length })).filter(
    (st) => !done.has(modelOf(st.site, st.task)),
  );
  if (todo.length === 0) {
    console.log(`fleet already generated: ${SITE_TASKS.length} site tasks × ${RUNS_PER_SITE_TASK} runs`);
    return { seconds: 0, runsCreated: 0, siteTasksGenerated: 0 };
  }
  console.log(`generating ${todo.length} site tasks × ${RUNS_PER_SITE_TASK} runs (${CONCURRENCY} at once)…`);
  const anchor = Date.now();
  const started = performance.now();
  let runsCreated = 0;
  let finished = 0;
  await pool(todo, CONCURRENCY, async (st) => {
    runsCreated += await generateSiteTask(st.siteIndex, st.taskIndex, anchor);
    finished++;
    if (finished % 10 === 0) console.log(`  ${finished}/${todo.length} site tasks, ${Math.round((performance.now() - started) / 1000)} s`);
  });
  return { seconds: (performance.now() - started) / 1000, runsCreated, siteTasksGenerated: todo.length };
}

/** Runs `fn` over the items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** 50 new runs, one per site task of the first 50, started now: what an incremental refresh has to find. */
async function writeExtraRuns(round: number): Promise<void> {
  const now = Date.now();
  await pool(SITE_TASKS.slice(0, EXTRA_RUNS), CONCURRENCY, async ({ site, task }) => {
    const siteIndex = SITES.indexOf(site);
    const taskIndex = TASKS.indexOf(task);
    const model = modelOf(site, task);
    const experimentId = await mlflow.ensureExperiment(experimentOf(site));
    const plan = { ...planRun(siteIndex, taskIndex, RUNS_PER_SITE_TASK - 1 - round, now, model), start: now + SITE_TASKS.findIndex((st) => st.site === site && st.task === task), measures: null };
    await writeRun(experimentId, site, task, plan, `x${round}`, { [EXTRA_TAG]: 'true' });
  });
}

async function fleetExperimentIds(): Promise<string[]> {
  const names = new Set(SITES.map((site) => experimentOf(site)));
  return (await mlflow.searchExperiments()).filter((e) => names.has(e.name)).map((e) => e.experiment_id);
}

interface PythonAnswer {
  mode: string;
  seconds: number;
  rows: number;
  columns: number;
  summary_seconds?: number;
  deleted?: number;
}

async function python(mode: 'search' | 'delete-extra', experimentIds: string[]): Promise<PythonAnswer & { process_seconds: number }> {
  const started = performance.now();
  const { stdout } = await promisify(execFile)(
    settings.python,
    [path.join(REPO, 'bench/fleet_search_runs.py'), '--tracking-uri', settings.mlflow.url, '--mode', mode, '--extra-tag', EXTRA_TAG, ...experimentIds.flatMap((id) => ['--experiment-id', id])],
    { env: { ...process.env, MLFLOW_TRACKING_URI: settings.mlflow.url, MLFLOW_DISABLE_TELEMETRY: 'true', DO_NOT_TRACK: 'true' }, maxBuffer: 1 << 24 },
  );
  const answer = JSON.parse(stdout.trim().split('\n').pop()!) as PythonAnswer;
  return { ...answer, process_seconds: (performance.now() - started) / 1000 };
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; seconds: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, seconds: (performance.now() - started) / 1000 };
}

/** Each query QUERY_REPEATS times on the snapshot; median seconds and the size of its answer. */
async function queries(snapshot: FleetSnapshot): Promise<{ query: string; seconds: number; rows: number }[]> {
  const one = { site: experimentOf(SITES[0]), task: TASKS[0] };
  const list: [string, () => unknown[]][] = [
    ['summary (whole fleet, 7 days)', () => summary(snapshot)],
    ['summary (one customer)', () => summary(snapshot, { filter: { customer: CUSTOMERS[0] } })],
    ['trend det.mAP50 (one site task, per run)', () => trend(snapshot, { filter: one, metric: 'det.mAP50' })],
    ['trend det.mAP50 (one customer, per day)', () => trendByDay(trend(snapshot, { filter: { customer: CUSTOMERS[0] }, metric: 'det.mAP50' }))],
    ['comparison by architecture (one site task)', () => comparison(snapshot, { filter: one, by: CompareBy.architecture })],
    ['comparison by version (one site task)', () => comparison(snapshot, { filter: one, by: CompareBy.version })],
    ['comparison by architecture (whole fleet)', () => comparison(snapshot, { by: CompareBy.architecture })],
    ['alerts (default rules, whole fleet)', () => alerts(snapshot, NO_RULES_FILE)],
  ];
  const out: { query: string; seconds: number; rows: number }[] = [];
  for (const [query, run] of list) {
    const samples: number[] = [];
    let rows = 0;
    for (let i = 0; i < QUERY_REPEATS; i++) {
      const { value, seconds } = await timed(run);
      samples.push(seconds);
      rows = value.length;
    }
    out.push({ query, seconds: round3(median(samples)), rows });
  }
  return out;
}

async function main(): Promise<void> {
  const machine = machineAtStart();
  const generation = await generate();
  if (process.argv.includes('generate')) return;

  const experimentIds = await fleetExperimentIds();
  await python('delete-extra', experimentIds); // leftovers of a bench that stopped half-way
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-fleet-bench-'));
  try {
    // first full read (fresh cache each time) against search_runs, interleaved
    const full: { seconds: number; runs: number; runsRead: number }[] = [];
    const py: (PythonAnswer & { process_seconds: number })[] = [];
    for (let repeat = 1; repeat <= REPEATS; repeat++) {
      const store = new FleetStore({ mlflow, cacheFile: path.join(dir, `full-${repeat}`, 'cache.json'), mlflowUrl: settings.mlflow.url });
      const { value, seconds } = await timed(() => store.refresh());
      if (value.mode !== 'full') throw new Error(`first read of an empty cache was ${value.mode}`);
      full.push({ seconds, runs: value.snapshot.runs.length, runsRead: value.runsRead });
      console.log(`FleetStore first full read: ${seconds.toFixed(2)} s (${value.snapshot.runs.length} runs, ${value.snapshot.models.length} model versions)`);
      py.push(await python('search', experimentIds));
      console.log(`mlflow.search_runs → DataFrame: ${py.at(-1)!.seconds.toFixed(2)} s (${py.at(-1)!.rows} rows × ${py.at(-1)!.columns} columns)`);
    }

    // incremental: 50 new runs, then refresh + summary, on the cache of the first full read
    const cacheFile = path.join(dir, 'full-1', 'cache.json');
    const store = new FleetStore({ mlflow, cacheFile, mlflowUrl: settings.mlflow.url });
    const restarted = await timed(() => store.cached());
    const cacheBytes = (await stat(cacheFile)).size;
    const incremental: { refresh_s: number; summary_s: number; total_s: number; runsRead: number; runs: number }[] = [];
    let snapshot: FleetSnapshot | undefined;
    for (let round = 1; round <= REPEATS; round++) {
      await writeExtraRuns(round);
      const refresh = await timed(() => store.refresh());
      if (refresh.value.mode !== 'incremental') throw new Error(`refresh after ${EXTRA_RUNS} new runs was ${refresh.value.mode}`);
      const sum = await timed(() => summary(refresh.value.snapshot));
      snapshot = refresh.value.snapshot;
      incremental.push({ refresh_s: round3(refresh.seconds), summary_s: round3(sum.seconds), total_s: round3(refresh.seconds + sum.seconds), runsRead: refresh.value.runsRead, runs: snapshot.runs.length });
      console.log(`incremental refresh after ${EXTRA_RUNS} new runs: ${refresh.seconds.toFixed(3)} s (${refresh.value.runsRead} runs read) + summary ${sum.seconds.toFixed(3)} s`);
    }
    const queryRows = await queries(snapshot!);
    const deleted = await python('delete-extra', experimentIds);

    const fullS = median(full.map((f) => f.seconds));
    const pyS = median(py.map((p) => p.seconds));
    const incS = median(incremental.map((i) => i.total_s));
    const goals = {
      'incremental refresh + summary under 1 s': incS < 1,
      [`first read no slower than mlflow.search_runs (within ${NOISE * 100} %)`]: fullS <= pyS * (1 + NOISE),
      [`every run read (${SITE_TASKS.length * RUNS_PER_SITE_TASK})`]: full.every((f) => f.runs >= SITE_TASKS.length * RUNS_PER_SITE_TASK),
    };
    const rows = [
      { step: 'FleetStore first full read (runs + registry, typed records, cache written)', seconds: round3(fullS), note: `${full[0].runs} runs, ${REPEATS} runs: ${full.map((f) => f.seconds.toFixed(2)).join(' / ')} s` },
      { step: 'mlflow.search_runs → pandas DataFrame (call only)', seconds: round3(pyS), note: `${py[0].rows} rows × ${py[0].columns} columns; ${py.map((p) => p.seconds.toFixed(2)).join(' / ')} s` },
      { step: 'mlflow.search_runs + the seeds’ summary groupby (pandas)', seconds: round3(median(py.map((p) => p.seconds + (p.summary_seconds ?? 0)))), note: 'the seeds’ /api/metrics/summary over the DataFrame' },
      { step: 'python process (start, import mlflow, search, groupby)', seconds: round3(median(py.map((p) => p.process_seconds))), note: 'what a script pays per question' },
      { step: 'FleetStore restarted from its disk cache (cached())', seconds: round3(restarted.seconds), note: `${(cacheBytes / 1e6).toFixed(1)} MB JSON` },
      { step: `incremental refresh after ${EXTRA_RUNS} new runs + summary`, seconds: incS, note: incremental.map((i) => `${i.refresh_s}+${i.summary_s}`).join(' / ') },
      ...queryRows.map((q) => ({ step: `query: ${q.query}`, seconds: q.seconds, note: `${q.rows} rows` })),
    ];
    await saveResults('fleet-metrics', {
      ...machine,
      fleet: { sites: SITES.length, tasks: TASKS.length, runs_per_site_task: RUNS_PER_SITE_TASK, runs: SITE_TASKS.length * RUNS_PER_SITE_TASK, days: DAYS, model_versions: SITE_TASKS.length * REGISTERED.length },
      generation: { ...generation, seconds: round3(generation.seconds) },
      repeats: REPEATS,
      full_read: full.map((f) => ({ ...f, seconds: round3(f.seconds) })),
      python_search_runs: py.map((p) => ({ ...p, seconds: round3(p.seconds), summary_seconds: round3(p.summary_seconds ?? 0), process_seconds: round3(p.process_seconds) })),
      restart_from_cache_s: round3(restarted.seconds),
      cache_bytes: cacheBytes,
      incremental,
      queries: queryRows,
      extra_runs_deleted: deleted.deleted ?? 0,
      rows,
      goals,
    });
    console.table(rows);
    console.table(goals);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
