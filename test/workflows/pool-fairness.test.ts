import path from 'node:path';
import os from 'node:os';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { startScenario } from '../../cli/start-run';
import { CONTROL_QUEUE } from '../../common/contract';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import { DEFAULT_POOL_POLICY, scenarioPriority } from '../../scenarios/pool-policy';
import type { Scenario } from '../../scenarios/schema';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { gflow } from '../support/cli';
import { connectStack, eventually, FAKE_EXECUTOR, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * The GPU pool's backlog in priority and fair-share order, on the real dev server (fairness on,
 * one partition: stack/servers.ts): two customers' sweeps and one urgent training are all queued
 * before the pool's only slot polls; then the urgent job runs first and the customers take turns.
 */

jest.setTimeout(180_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

const TRIALS = 3;

type ScenarioOptions = { customer: string; version: string; pool: string; design: 'sweep' | 'single'; priority?: string };

const scenario = (opts: ScenarioOptions): Scenario => parseScenarioText(scenarioYaml(opts));

function scenarioYaml(opts: ScenarioOptions): string {
  const lrs = Array.from({ length: TRIALS }, (_, i) => 0.001 * (i + 1));
  return `
name: fair-${opts.customer}
version: ${opts.version}
type: train
design: ${opts.design}
site: { customer: ${opts.customer}, region: ci, plant: lab, zone: pool }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0, gpu_pool: ${opts.pool} }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01 }
register: false
${opts.priority ? `priority: ${opts.priority}` : ''}
${opts.design === 'sweep' ? `sweep: { parameters: { learning_rate: [${lrs.join(', ')}] }, parallel: ${TRIALS} }` : ''}
`;
}

/** The workflow's train activity, once it waits on the pool's queue. */
async function trainScheduled(stack: Stack, id: string): Promise<boolean> {
  const { raw } = await stack.client.workflow.getHandle(id).describe();
  return (raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'train');
}

/** When the workflow's train activity started (ms). */
async function trainStarted(stack: Stack, id: string): Promise<number> {
  const events = (await stack.client.workflow.getHandle(id).fetchHistory()).events!;
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train')!;
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  return Number(started.eventTime!.seconds) * 1000 + Math.floor((started.eventTime!.nanos ?? 0) / 1e6);
}

test('an urgent job runs first, then two customers’ queued sweeps take turns on one slot; children inherit the priority, across continue-as-new too', async () => {
  const version = `f${Date.now()}`;
  const pool = `fair-${version}`;
  const settings = { ...stack.settings, gpu: { ...stack.settings.gpu, pool, slots: 1, devices: ['cpu'], workDir: await mkdtemp(path.join(os.tmpdir(), 'gflow-fair-')) } };
  const a = scenario({ customer: 'fair-a', version, pool, design: 'sweep' });
  const b = scenario({ customer: 'fair-b', version, pool, design: 'sweep' });
  const urgent = scenario({ customer: 'fair-c', version, pool, design: 'single', priority: 'urgent' });
  const control = await createControlWorker({ settings, connection: stack.nativeConnection, workflowBundle: bundle });
  const trialIds = (s: Scenario) => Array.from({ length: TRIALS }, (_, i) => `${workflowId(s)}/trial-${i}`);

  const sweepA = (await startScenario(stack.client, a)) as unknown as WorkflowHandle<typeof sweep>;
  // B continues as new after every trial: the trials its later runs start must carry B's priority too
  const sweepB = await stack.client.workflow.start<typeof sweep>('sweep', {
    taskQueue: CONTROL_QUEUE,
    workflowId: workflowId(b),
    args: [{ scenario: b, trialsPerRun: 1 }],
    priority: scenarioPriority(b, DEFAULT_POOL_POLICY),
  });
  const single = await startScenario(stack.client, urgent);
  const queued = [...trialIds(a), ...trialIds(b), single.workflowId];

  // every GPU job is on the pool's queue before its only slot polls: the dispatch order is the server's alone
  await withWorkers([control], () =>
    eventually(async () => ((await Promise.all(queued.map((id) => trainScheduled(stack, id)))).every(Boolean) ? true : undefined), 120_000, 'all 7 train jobs queued'),
  );

  for (const [s, id] of [[a, trialIds(a)[0]], [b, trialIds(b)[TRIALS - 1]], [urgent, single.workflowId]] as const) {
    expect((await stack.client.workflow.getHandle(id).describe()).priority).toEqual(scenarioPriority(s, DEFAULT_POOL_POLICY));
  }
  expect(scenarioPriority(urgent, DEFAULT_POOL_POLICY)).toEqual({ priorityKey: 1, fairnessKey: 'fair-c', fairnessWeight: 1 });
  expect(scenarioPriority(a, DEFAULT_POOL_POLICY)).toEqual({ priorityKey: 3, fairnessKey: 'fair-a', fairnessWeight: 1 });

  const control2 = await createControlWorker({ settings, connection: stack.nativeConnection, workflowBundle: bundle });
  const gpu: Worker[] = await createGpuWorkers({ settings, connection: stack.nativeConnection, client: stack.client, executors: { train: FAKE_EXECUTOR }, heartbeatIntervalMs: 500 });
  await withWorkers([control2, ...gpu], async () => {
    await Promise.all([sweepA.result(), sweepB.result(), single.result()]);
  });

  const customerOf = new Map<string, string>([...trialIds(a).map((id) => [id, 'A'] as const), ...trialIds(b).map((id) => [id, 'B'] as const), [single.workflowId, 'C']]);
  const started = await Promise.all(queued.map(async (id) => ({ id, at: await trainStarted(stack, id) })));
  const order = started.sort((x, y) => x.at - y.at).map(({ id }) => customerOf.get(id)).join('');
  // urgent first, then one job of each customer in turn (first come, first served would run AAA before BBB)
  expect(order).toMatch(/^C(AB|BA){3}$/);
});

test('gflow sweep --priority starts at that priority key, with the customer’s weight from the pool policy; a bad level or pool.yaml exits 2 before starting', async () => {
  const version = `c${Date.now()}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-fair-cli-'));
  const file = path.join(dir, 'sweep.yaml');
  const pool = path.join(dir, 'pool.yaml');
  const opts: ScenarioOptions = { customer: 'fair-cli', version, pool: `fair-${version}`, design: 'sweep', priority: 'urgent' };
  const s = scenario(opts);
  await writeFile(file, scenarioYaml(opts));
  await writeFile(pool, 'weights: { fair-cli: 2.5 }\n');

  const bad = await gflow(stack.settings, ['sweep', file, '--no-check-files', '--priority', 'asap']);
  expect([bad.code, bad.stderr.trim()]).toEqual([2, `gflow: ${file}: --priority: expected urgent, normal, background, got "asap"`]);
  await writeFile(path.join(dir, 'bad-pool.yaml'), 'weights: { fair-cli: 0 }\n');
  const badPool = await gflow(stack.settings, ['--pool-policy', path.join(dir, 'bad-pool.yaml'), 'sweep', file, '--no-check-files']);
  expect(badPool.code).toBe(2);
  expect(badPool.stderr).toMatch(/bad-pool\.yaml: invalid pool policy[\s\S]*weights\.fair-cli: expected a weight of at least 0\.001/);

  // the flag wins over the file's priority: urgent
  const started = await gflow(stack.settings, ['--pool-policy', pool, 'sweep', file, '--no-check-files', '--priority', 'background']);
  expect(started.code).toBe(0);
  const handle = stack.client.workflow.getHandle(workflowId(s));
  try {
    expect((await handle.describe()).priority).toEqual({ priorityKey: 5, fairnessKey: 'fair-cli', fairnessWeight: 2.5 });
  } finally {
    await handle.terminate('test done: no workers for it');
  }
});
