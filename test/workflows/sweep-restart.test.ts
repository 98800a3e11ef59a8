import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { batchProgressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import { workflowId } from '../../scenarios/naming';
import { parseScenarioText } from '../../scenarios/loader';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { childRuns, connectStack, eventually, FAKE_EXECUTOR, tagsOf, workflowBundle, type Stack } from '../support/harness';
import { restartTemporalServer } from '../support/temporal-restart';

/**
 * Durability: the control worker and the Temporal dev server stop in the middle of a sweep
 * and start again; the sweep continues where it was, no trial runs twice or is lost, and
 * no MLflow run is duplicated or left RUNNING.
 */

jest.setTimeout(10 * 60_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

const TRIALS = 10;

it('a sweep survives a restart of the control worker and the Temporal server', async () => {
  const scenario = parseScenarioText(`
name: restart
version: restart
type: train
design: sweep
site: { customer: restart-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [0.001, 0.002, 0.003, 0.005, 0.01], batch_size: [8, 16] }, parallel: 2 }
`);
  const id = workflowId(scenario);
  const settings = stack.settings;
  const control = () => createControlWorker({ settings, connection: stack.nativeConnection, workflowBundle: bundle });
  const gpu = await createGpuWorkers({ settings, connection: stack.nativeConnection, client: stack.client, executors: { train: FAKE_EXECUTOR }, env: { GF_FAKE_EPOCH_SECONDS: '0.5' }, heartbeatIntervalMs: 500 });
  const gpuRunning = gpu.map((w) => w.run());

  const first = await control();
  const firstRunning = first.run();
  const handle = (await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
  const before = await eventually(async () => {
    const p = await handle.query(batchProgressQuery);
    return p.done >= 3 && p.running > 0 ? p : undefined;
  }, 120_000, 'three trials done');

  first.shutdown();
  await firstRunning;
  await restartTemporalServer(settings);

  const second: Worker = await control();
  const result = await second.runUntil(handle.result());
  for (const w of gpu) w.shutdown();
  await Promise.all(gpuRunning);

  expect(before.done).toBeLessThan(TRIALS);
  expect(result).toEqual(expect.objectContaining({ total: TRIALS, done: TRIALS, failed: 0 }));
  for (let i = 0; i < TRIALS; i++) {
    const executions = [];
    for await (const e of stack.client.workflow.list({ query: `WorkflowId = '${id}/trial-${i}'` })) executions.push(e);
    expect(executions).toHaveLength(1);
  }
  const parent = await stack.mlflow.getRun(result.runId);
  const children = await childRuns(stack, result.runId);
  expect(children.map((r) => Number(tagsOf(r)['sweep.index'])).sort((a, b) => a - b)).toEqual([...Array(TRIALS).keys()]);
  expect(children.filter((r) => r.info.status !== 'FINISHED')).toEqual([]);
  expect(parent.info.status).toBe('FINISHED');
});
