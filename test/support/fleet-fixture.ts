import { createTrackingActivities } from '../../activities/tracking/activities';
import type { MlflowClient } from '../../activities/tracking/mlflow-client';
import { parseScenarioText } from '../../scenarios/loader';
import { experimentName, registeredModelName, runName } from '../../scenarios/naming';
import { scenarioParams, scenarioTags } from '../../scenarios/tracking-fields';

/**
 * A fleet of 6 sites × 2 tasks recorded in the test stack's real MLflow over simulated days (no
 * training), shared by the fleet tests (test/workflows/fleet-metrics, fleet-page): per site task
 * a yolov8n run (v1, rollback), a yolov8s run (v2, champion), a benchmark of v2, a newer yolov8s
 * run (v3, candidate), with a few sites bent so that every alert rule fires once. Tests write
 * their expected numbers as literals from this description, never computed from it.
 */

export const DAY = 24 * 60 * 60 * 1000;
export const HOUR = 60 * 60 * 1000;
/** Midnight UTC today: runs sit at whole hours of earlier days, so each day's runs stay on their day. */
export const MIDNIGHT = Math.floor(Date.now() / DAY) * DAY;
export const at = (daysAgo: number, hour: number) => MIDNIGHT - daysAgo * DAY + hour * HOUR;
export const utcDay = (t: number) => new Date(t).toISOString().slice(0, 10);

/** Fresh customer names per test file, in case the stack is reused; the pid keeps two jest workers starting in the same millisecond apart. */
export const tag = `${Date.now().toString(36)}${process.pid.toString(36)}`;
export const ALPHA = `alpha-${tag}`;
export const BETA = `beta-${tag}`;
export const GAMMA = `gamma-${tag}`;
export const MINE = new Set([ALPHA, BETA, GAMMA]);

export const SITES = [
  { customer: ALPHA, region: 'north', plant: 'p1', zone: 'weld' },
  { customer: ALPHA, region: 'north', plant: 'p2', zone: 'paint' },
  { customer: BETA, region: 'south', plant: 'p1', zone: 'dock' },
  { customer: BETA, region: 'south', plant: 'p1', zone: 'yard' },
  { customer: GAMMA, region: 'east', plant: 'p1', zone: 'kiln' },
  { customer: GAMMA, region: 'east', plant: 'p3', zone: 'lab' },
];
export type SiteSpec = (typeof SITES)[number];
export const key = (s: SiteSpec) => `${s.customer}/${s.region}-${s.plant}/${s.zone}`;
export const [WELD, PAINT, DOCK, YARD, KILN, LAB] = SITES.map(key);
export const TASKS = ['ppe', 'fall'];

export interface RunSpec {
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
export function runsOf(site: SiteSpec, task: string): RunSpec[] {
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

export function scenarioOf(site: SiteSpec, task: string, run: RunSpec, index: number) {
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

/** What was written: run ids by `{site key} {task}` in the order written, and the run left running. */
export interface WrittenFleet {
  written: Map<string, string[]>;
  runningRunId: string;
}

/**
 * Writes `specs` as the runs of one site task, the way writeTestFleet writes each of its own (so
 * other tests can record a fleet of their own sites); with three registered versions, v2 becomes
 * champion and v1 rollback. Returns the run ids in the order written.
 */
export async function writeSiteTaskRuns(mlflow: MlflowClient, site: SiteSpec, task: string, specs: RunSpec[]): Promise<string[]> {
  const tracking = createTrackingActivities({ mlflow });
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
    if (!spec.running) await mlflow.updateRun(info.run_id, 'FINISHED', start + 10 * 60 * 1000);
    if (spec.register) versions.push((await tracking.registerModel({ name: model, runId: info.run_id, source: `${info.artifact_uri}/weights/best.pt`, alias: 'candidate' })).version);
    ids.push(info.run_id);
  }
  // promotions as the registry workflow leaves them: v2 champion, v1 rollback, v3 still candidate
  if (versions.length === 3) {
    await mlflow.setAlias(model, 'champion', versions[1]);
    await mlflow.setAlias(model, 'rollback', versions[0]);
  }
  return ids;
}

async function writeSiteTask(mlflow: MlflowClient, fleet: WrittenFleet, site: SiteSpec, task: string): Promise<void> {
  const specs = runsOf(site, task);
  const ids = await writeSiteTaskRuns(mlflow, site, task, specs);
  const running = specs.findIndex((s) => s.running);
  if (running >= 0) fleet.runningRunId = ids[running];
  fleet.written.set(`${key(site)} ${task}`, ids);
}

/** Records the whole fleet (every site task at once) in the MLflow behind `mlflow`. */
export async function writeTestFleet(mlflow: MlflowClient): Promise<WrittenFleet> {
  const fleet: WrittenFleet = { written: new Map(), runningRunId: '' };
  await Promise.all(SITES.flatMap((site) => TASKS.map((task) => writeSiteTask(mlflow, fleet, site, task))));
  return fleet;
}
