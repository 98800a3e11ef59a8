import type { WorkflowHandle } from '@temporalio/client';
import { startScenario } from '../../cli/start-run';
import { workflowId } from '../../scenarios/naming';
import { parseScenarioText } from '../../scenarios/loader';
import { TRIALS_PER_RUN, type sweep } from '../../workflows/sweep';
import { childRuns, connectStack, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

/**
 * A sweep of thousands of trials through the real orchestration (sweep workflow, child
 * workflow per trial, MLflow runs, S3 artifacts) with the stand-in executor: it must finish
 * without reaching Temporal's history limits, carrying a constant-size state.
 */

const TRIALS = Number(process.env.GF_SCALE_TRIALS ?? 2000);
const HISTORY_WARNING = 10_240;

jest.setTimeout(60 * 60_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

it(`a ${TRIALS}-trial random sweep completes within history limits, every trial once`, async () => {
  const values = Array.from({ length: 50 }, (_, i) => Number((0.0005 * (i + 1)).toFixed(4)));
  const scenario = parseScenarioText(`
name: scale
version: scale${TRIALS}
type: train
design: sweep
site: { customer: scale-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [${values.join(', ')}], batch_size: [8, 16, 24, 32, 40, 48, 56, 64], patience: [5, 10, 15, 20, 25, 30] }, strategy: random, max_runs: ${TRIALS}, parallel: 16, seed: 1 }
`);
  const id = workflowId(scenario);
  const result = await withFakeGpu(stack, { bundle, hosts: 4, slots: 4, env: { GF_FAKE_EPOCH_SECONDS: '0' } }, async () => {
    const handle = (await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
    return handle.result();
  });
  expect(result).toEqual(expect.objectContaining({ total: TRIALS, done: TRIALS, failed: 0 }));

  const chain = [];
  for await (const execution of stack.client.workflow.list({ query: `WorkflowId = '${id}'` })) chain.push(execution);
  expect(chain.length).toBeGreaterThanOrEqual(Math.ceil(TRIALS / TRIALS_PER_RUN));
  for (const execution of chain) {
    const history = await stack.client.workflow.getHandle(id, execution.runId).fetchHistory();
    expect(history.events!.length).toBeLessThan(HISTORY_WARNING);
    const carried = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0].data!.length;
    expect(carried).toBeLessThan(16_000);
  }

  const parent = await stack.mlflow.getRun(result.runId);
  const children = await childRuns(stack, result.runId);
  expect(children).toHaveLength(TRIALS);
  expect(new Set(children.map((r) => tagsOf(r)['sweep.index'])).size).toBe(TRIALS);
  expect(children.filter((r) => r.info.status !== 'FINISHED')).toEqual([]);
  expect(parent.info.status).toBe('FINISHED');
});
