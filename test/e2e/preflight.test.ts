import { execFile } from 'node:child_process';
import { appendFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { applicationFailureOf } from '../../cli/temporal';
import { startScenario } from '../../cli/start-run';
import { progressQuery } from '../../common/contract';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { connectStack, syntheticDataset, trainScenario, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * Issue 11 item 6 on the real stack with the real executors: a training on bad labels fails
 * `InvalidDataset` and a benchmark of a model with other classes `InvalidModel`, each after one
 * activity attempt, with the run FAILED and no epoch recorded.
 */

jest.setTimeout(10 * 60_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let badLabels: string;
let goodData: string;
let otherClassesWeights: string;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-e2e-preflight-'));
  const classes = ['helmet', 'vest', 'harness'];
  goodData = await syntheticDataset(stack.settings, path.join(dir, 'good'), { train: 4, val: 2, classes });
  badLabels = await syntheticDataset(stack.settings, path.join(dir, 'bad'), { train: 4, val: 2, classes });
  await appendFile(path.join(dir, 'bad/labels/train/train_00001.txt'), '5 0.5 0.5 0.2 0.2\n');
  otherClassesWeights = path.join(dir, 'other-classes.pt');
  await promisify(execFile)(stack.settings.python, [
    '-c',
    'import sys, torch\nfrom ultralytics.nn.tasks import DetectionModel\nm = DetectionModel("yolov8n.yaml", nc=1, verbose=False)\nm.names = {0: "fire"}\ntorch.save({"model": m}, sys.argv[1])',
    otherClassesWeights,
  ]);
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/** The failure type, how often each GPU activity was scheduled, and the run (workers of its own: they stop after it). */
async function failedRun(scenario: Scenario) {
  const workers = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
  return withWorkers(workers, async () => {
    const handle: WorkflowHandle = await startScenario(stack.client, scenario);
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const failure = applicationFailureOf(err as Error);
    const history = await handle.fetchHistory();
    const scheduled = history.events!.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((name) => name === 'train' || name === 'benchmark');
    const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt);
    const { runId } = await handle.query(progressQuery);
    return { failure, scheduled, started, run: await stack.mlflow.getRun(runId!) };
  });
}

describe('bad data and bad models fail fast, once, on the real stack', () => {
  it('a training on a label with a class id ≥ nc: InvalidDataset after one attempt, run FAILED, no epoch', async () => {
    const { failure, scheduled, started, run } = await failedRun(trainScenario({ version: 'preflight_data', dataPath: badLabels }));
    expect([failure?.type, failure?.nonRetryable]).toEqual(['InvalidDataset', true]);
    expect(failure?.message).toMatch(/labels\/train\/train_00001\.txt:\d+: class id 5 is not one of 0\.\.2/);
    expect(scheduled).toEqual(['train']);
    expect(started.every((attempt) => attempt === 1)).toBe(true);
    expect(run.info.status).toBe('FAILED');
    expect(await stack.mlflow.getMetricHistory(run.info.run_id, 'det.box_loss')).toEqual([]);
  });

  it('a benchmark of a model that detects other classes: InvalidModel after one attempt, run FAILED', async () => {
    const scenario = parseScenarioText(`
name: test-preflight-model
version: preflight_model
type: infer
site: { customer: test-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest, harness] }
model: { architecture: yolov8n.yaml, weights: ${otherClassesWeights}, input_size: 64 }
dataset: { path: ${goodData}, version: synthetic-1 }
environment: { device: cpu, seed: 0, workers: 0 }
benchmark: { batch_sizes: [1], warmup_runs: 1, benchmark_runs: 1 }
`);
    const { failure, scheduled, started, run } = await failedRun(scenario);
    expect([failure?.type, failure?.nonRetryable]).toEqual(['InvalidModel', true]);
    expect(failure?.message).toContain("detects classes ['fire'], the scenario's task.classes are ['helmet', 'vest', 'harness']");
    expect(started.every((attempt) => attempt === 1)).toBe(true);
    expect(scheduled).toEqual(['benchmark']);
    expect(run.info.status).toBe('FAILED');
  });
});
