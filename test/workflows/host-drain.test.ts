import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { CONTROL_QUEUE, progressQuery, WorkflowType } from '../../common/contract';
import { FailureType } from '../../common/failure-types';
import type { HostRecord } from '../../common/hosts';
import type { PoolView } from '../../cli/pool-view';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import { createControlWorker } from '../../workers/control';
import type { singleRun } from '../../workflows/single-run';
import type { sweep } from '../../workflows/sweep';
import { gflow } from '../support/cli';
import { startGpuWorkerProcess, STAND_IN_GPU_HOST } from '../support/gpu-process';
import { childRuns, connectStack, eventually, tagsOf, trainScenario, workflowBundle, type Stack } from '../support/harness';

/**
 * Draining a GPU host (issue 14 item 4), on the real stack: GPU hosts as their own processes (the
 * stand-in host: `dist/workers/gpu.js` with the stand-in executors), each with its own host id and
 * work folder, in a pool of their own so no other test's jobs reach them. `gflow host drain` asks
 * the host's record in Temporal; the host's worker, watching it, stops taking jobs.
 */

jest.setTimeout(6 * 60_000);

let stack: Stack;
let dir: string;
let control: Worker;
let controlRun: Promise<void>;
const hosts: ChildProcess[] = [];

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-drain-'));
  control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
  controlRun = control.run();
});

afterEach(() => {
  for (const child of hosts) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

afterAll(async () => {
  control?.shutdown();
  await controlRun;
  await stack?.close();
});

/** The exit code of a host process, once it has exited (maybe already). */
async function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** A stand-in GPU host process in `pool`: one slot, epochs of `epochSeconds`. */
async function startHost(pool: string, hostId: string, epochSeconds: number): Promise<ChildProcess> {
  const env = { GF_GPU_POOL: pool, GF_GPU_HOST_ID: hostId, GF_WORK_DIR: path.join(dir, hostId, 'work'), GF_GPU_DEVICES: 'cpu', GF_GPU_SLOTS_PER_DEVICE: '1', GF_FAKE_EPOCH_SECONDS: String(epochSeconds) };
  const child = await startGpuWorkerProcess(dir, hostId, env, STAND_IN_GPU_HOST);
  hosts.push(child);
  await eventually(async () => ((await hostList(pool)).find((h) => h.hostId === hostId)?.state === 'active' ? true : undefined), 60_000, `${hostId} to check in`);
  return child;
}

async function gflowJson<T>(args: string[]): Promise<T> {
  const run = await gflow(stack.settings, args, 120_000);
  if (run.code !== 0) throw new Error(`gflow ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

const hostList = (pool: string) => gflowJson<HostRecord[]>(['host', 'list', '--pool', pool, '--json']);
const poolJson = (pool: string) => gflowJson<PoolView>(['pool', '--pool', pool, '--json']);

function inPool(scenario: Scenario, pool: string): Scenario {
  return { ...scenario, environment: { ...scenario.environment, gpu_pool: pool } };
}

/**
 * The train attempt of a workflow's history that ended it: [attempt, worker identity, the type of
 * the previous attempt's failure]. Temporal records only the last attempt of a retried activity.
 */
async function trainAttempts(id: string): Promise<[number, string, string | null][]> {
  const events = (await stack.client.workflow.getHandle(id).fetchHistory()).events!;
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train').map((e) => String(e.eventId)));
  return events
    .map((e) => e.activityTaskStartedEventAttributes)
    .filter((a) => a && scheduled.has(String(a.scheduledEventId)))
    .map((a) => [a!.attempt!, a!.identity!.replace(/^\d+@/, ''), a!.lastFailure?.applicationFailureInfo?.type ?? null]);
}

it('graceful drain: the running job finishes (uploads included), no new job is taken, the worker exits; pool and host list show it; SIGTERM stops a host cleanly', async () => {
  const pool = 'drain-graceful';
  const host = await startHost(pool, 'gentle-a', 1);
  const first = inPool(trainScenario({ version: 'drain_graceful_first', dataPath: '/nonexistent/data.yaml', epochs: 8, customer: 'alpha-co' }), pool);
  const second = inPool(trainScenario({ version: 'drain_graceful_second', dataPath: '/nonexistent/data.yaml', epochs: 2, customer: 'beta-co' }), pool);
  const a = await stack.client.workflow.start<typeof singleRun>(WorkflowType.singleRun, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(first), args: [{ scenario: first }] });
  await eventually(async () => ((await a.query(progressQuery)).training?.epoch ?? 0) >= 1 || undefined, 120_000, 'the first job training');

  // the pool view: the host, its slot, the job on it with its site
  const busy = await eventually(async () => {
    const view = await poolJson(pool);
    return view.hosts.find((h) => h.hostId === 'gentle-a')?.running.length === 1 ? view : undefined;
  }, 60_000, 'the running job in gflow pool');
  expect(busy.hosts.find((h) => h.hostId === 'gentle-a')).toMatchObject({ state: 'active', slots: 1, devices: [{ index: 'cpu' }], running: [{ workflowId: a.workflowId, site: 'alpha-co/ci-lab/bench', activity: 'train', priority: 3, state: 'running' }] });
  expect(busy.slots).toEqual({ total: 1, busy: 1 });

  const drained = await gflow(stack.settings, ['host', 'drain', 'gentle-a', '--pool', pool]);
  expect(drained.code).toBe(0);
  expect(drained.stdout).toMatch(/^host gentle-a: draining: no new jobs; running ones finish/);
  await eventually(async () => ((await hostList(pool)).find((h) => h.hostId === 'gentle-a')?.state === 'draining' ? true : undefined), 30_000, 'draining in gflow host list');

  // a job started now waits: the draining host takes nothing new
  const b = await startScenario(stack.client, second);
  const waiting = await eventually(async () => {
    const view = await poolJson(pool);
    return view.waiting.some((j) => j.workflowId === b.workflowId) ? view : undefined;
  }, 60_000, 'the second job waiting in gflow pool');
  // every start carries its priority (normal by default) and fairness key (the customer)
  expect(waiting.waitingBy).toEqual([{ priority: 3, priorityName: 'normal', fairnessKey: 'beta-co', jobs: 1 }]);
  const why = await gflow(stack.settings, ['pool', b.workflowId, '--pool', pool]);
  expect(why.stdout).toMatch(new RegExp(`^${b.workflowId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(train, normal, customer beta-co\\) waits since .*: no active host in pool ${pool}`));

  // the running job finishes on the draining host, its files uploaded from there; then the worker exits
  const result = await a.result();
  const run = await stack.mlflow.getRun(result.runId);
  expect(run.info.status).toBe('FINISHED');
  expect(tagsOf(run)['weights.fallback']).toBeUndefined();
  expect(await exitCode(host)).toBe(0);
  // the second job never started on the drained host: still its first attempt, waiting
  const after = await poolJson(pool);
  expect(after.waiting).toEqual([expect.objectContaining({ workflowId: b.workflowId, attempt: 1, state: 'waiting' })]);
  expect(after.waiting[0].lastFailure).toBeUndefined();
  const gone = (await hostList(pool)).find((h) => h.hostId === 'gentle-a')!;
  expect(gone).toMatchObject({ state: 'gone', drain: 'graceful' });
  expect(gone.stoppedAt).toBeDefined();
  const refused = await gflow(stack.settings, ['host', 'drain', 'gentle-a', '--pool', pool]);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/host gentle-a is not running/);

  // a fresh host of the pool takes the waiting job
  const fresh = await startHost(pool, 'gentle-b', 0.05);
  expect((await stack.mlflow.getRun((await b.result()).runId)).info.status).toBe('FINISHED');
  expect(await trainAttempts(b.workflowId)).toEqual([[1, 'gentle-b', null]]);

  // SIGTERM (systemd's stop) is a drain at once: the worker exits by itself and its record says gone
  fresh.kill('SIGTERM');
  expect(await exitCode(fresh)).toBe(0);
  expect((await hostList(pool)).find((h) => h.hostId === 'gentle-b')).toMatchObject({ state: 'gone' });
});

it('drain --now mid-sweep: the running training goes back to the pool and resumes on the other host; no trial lost, every trial run ends once, FINISHED', async () => {
  const pool = 'drain-now';
  const [hostA] = [await startHost(pool, 'now-a', 1), await startHost(pool, 'now-b', 1)];
  const scenario = inPool(
    parseScenarioText(`
name: drain-now
version: drain_now
type: train
design: sweep
site: { customer: drain-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 8, batch_size: 16, learning_rate: 0.01 }
sweep: { parameters: { learning_rate: [0.001, 0.01, 0.02, 0.05] }, strategy: grid, parallel: 2, metric: det.mAP50 }
`),
    pool,
  );
  const handle = (await startScenario(stack.client, scenario)) as unknown as Awaited<ReturnType<typeof stack.client.workflow.start<typeof sweep>>>;

  // a trial trains on host A with an uploaded checkpoint behind it
  const onA = await eventually(async () => {
    const view = await poolJson(pool);
    const job = view.hosts.find((h) => h.hostId === 'now-a')?.running[0];
    if (!job) return undefined;
    const p = await stack.client.workflow.getHandle(job.workflowId).query(progressQuery);
    return (p.training?.epoch ?? 0) >= 3 ? job : undefined;
  }, 120_000, 'a trial at epoch 3 on host A');
  expect(onA.rootWorkflowId).toBe(handle.workflowId);
  // another pool's view shows none of this pool's jobs
  const other = await poolJson('drain-graceful');
  expect([other.hosts.flatMap((h) => h.running), other.waiting]).toEqual([[], []]);

  const drained = await gflow(stack.settings, ['host', 'drain', 'now-a', '--pool', pool, '--now', '--wait'], 180_000);
  expect(drained.code).toBe(0);
  expect(drained.stdout).toMatch(/draining at once: running jobs go back to the pool[\s\S]*host now-a: drained, its worker stopped/);
  expect(await exitCode(hostA)).toBe(0);

  const result = await handle.result();
  expect(result).toEqual(expect.objectContaining({ total: 4, done: 4, failed: 0 }));
  // every trial: one MLflow run, FINISHED; the handed-back one resumed on host B in the same run
  const children = await childRuns(stack, result.runId);
  expect(children.map((r) => tagsOf(r)['sweep.index']).sort()).toEqual(['0', '1', '2', '3']);
  expect(children.map((r) => r.info.status)).toEqual(['FINISHED', 'FINISHED', 'FINISHED', 'FINISHED']);
  // attempt 1 ran on host A (the pool view showed it there); attempt 2, after HostDraining, on host B
  expect(onA.identity).toMatch(/@now-a$/);
  expect(await trainAttempts(onA.workflowId)).toEqual([[2, 'now-b', FailureType.HostDraining]]);
  const steps = (await stack.mlflow.getMetricHistory(children.find((r) => tagsOf(r)['gf.workflow_id'] === onA.workflowId)!.info.run_id, 'det.box_loss')).map((m) => m.step);
  expect([...new Set(steps)].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  // resumed from the uploaded checkpoint, not from the start: at most the epochs since it were trained twice
  expect(steps.length).toBeLessThan(8 + 3);

  expect((await hostList(pool)).map((h) => [h.hostId, h.state, h.drain ?? null])).toEqual([
    ['now-a', 'gone', 'now'],
    ['now-b', 'active', null],
  ]);
});
