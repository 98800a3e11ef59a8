import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import type { comparison } from '../../workflows/comparison';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { childRuns, metricsOf, artifactKeys, connectStack, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(20 * 60_000);

const CLASSES = ['helmet', 'vest'];
const COMMON = `
site: { customer: e2e-co, region: ci, plant: lab, zone: sweep }
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
model: { architecture: yolov8n.yaml, input_size: 64 }
environment: { device: cpu, seed: 0, workers: 0 }`;

let stack: Stack;
let dataYaml: string;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-sweep-e2e-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 32, val: 8, classes: CLASSES });
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/** Control worker and one GPU host with two slots running the real ultralytics executors. */
async function workers(): Promise<Worker[]> {
  const settings = { ...stack.settings, gpu: { ...stack.settings.gpu, slots: 2 } };
  return [
    await createControlWorker({ settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings, connection: stack.nativeConnection, client: stack.client })),
  ];
}


describe('sweep and comparison with real ultralytics on CPU', () => {
  let trialRunIds: string[];

  it('a 4-trial grid over 2 GPU slots: nested runs, best by mAP50, table, chart, best registered', async () => {
    const scenario = parseScenarioText(`
name: e2e-sweep
version: e2es
type: train
design: sweep
${COMMON}
dataset: { path: ${dataYaml}, version: synthetic-1 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [0.001, 0.01], batch_size: [4, 8] }, strategy: grid, parallel: 2, metric: det.mAP50 }
`);
    const result = await withWorkers(await workers(), async () => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>).result());
    expect(result).toEqual(expect.objectContaining({ total: 4, done: 4, failed: 0 }));

    const parent = await stack.mlflow.getRun(result.runId);
    const children = await childRuns(stack, result.runId);
    expect(children).toHaveLength(4);
    for (const child of children) {
      expect(child.info.status).toBe('FINISHED');
      expect(Object.keys(metricsOf(child))).toEqual(expect.arrayContaining(['det.mAP50', 'det.mAP50_95']));
      expect(['0.001', '0.01']).toContain(paramsOf(child).learning_rate);
    }
    const top = Math.max(...children.map((c) => metricsOf(c)['det.mAP50']));
    expect(result.best!.value).toBe(top);
    const chosen = children.find((c) => c.info.run_id === tagsOf(parent)['best.run_id'])!;
    expect(metricsOf(chosen)['det.mAP50']).toBe(top);
    expect(metricsOf(parent)['best.det.mAP50']).toBe(top);
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toEqual(expect.arrayContaining(['results.csv', 'sweep_chart.png']));
    expect(result.model?.alias).toBe('candidate');
    trialRunIds = children.map((c) => c.info.run_id);
  });

  it('run_ids comparison: reads the trials (runs nothing), best run, table and chart on the parent', async () => {
    const scenario = parseScenarioText(`
name: e2e-compare
version: e2ec
type: train
design: comparison
${COMMON}
dataset: { path: ${dataYaml}, version: synthetic-1 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.01 }
comparison: { run_ids: [${trialRunIds.join(', ')}], metric: det.mAP50 }
`);
    const result = await withWorkers(await workers(), async () => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof comparison>).result());
    expect(result.rows).toBe(4);
    const runs = await Promise.all(trialRunIds.map((id) => stack.mlflow.getRun(id)));
    const top = Math.max(...runs.map((r) => metricsOf(r)['det.mAP50']));
    expect(result.best?.value).toBe(top);
    expect(metricsOf(runs.find((r) => r.info.run_id === result.best!.runId)!)['det.mAP50']).toBe(top);
    const parent = await stack.mlflow.getRun(result.runId);
    expect(parent.info.status).toBe('FINISHED');
    expect(tagsOf(parent)).toEqual(expect.objectContaining({ 'exp.design': 'comparison', 'comparison.variable': 'run_id', 'comparison.best_run_id': result.best!.runId }));
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toEqual(expect.arrayContaining(['comparison.csv', 'comparison_chart.png']));
    const children = await childRuns(stack, result.runId);
    expect(children).toHaveLength(0);
  });
});
