import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { buildProgram } from '../../cli/gflow';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { artifactKeys, connectStack, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(15 * 60_000);

const CLASSES = ['helmet', 'vest', 'harness'];
const scenarioYaml = (dataYaml: string) => `
name: e2e-shapes
version: e2e1
type: train
design: single
site: { customer: e2e-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
environment: { device: cpu, seed: 0, workers: 0 }
training: { epochs: 2, batch_size: 8, learning_rate: 0.01, optimizer: SGD, plots: false }
`;

let stack: Stack;
let workers: Worker[];
let scenarioFile: string;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-e2e-'));
  const dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 32, val: 16, classes: CLASSES });
  scenarioFile = path.join(dir, 'scenario.yaml');
  await writeFile(scenarioFile, scenarioYaml(dataYaml));
  workers = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
});

afterAll(async () => {
  await stack?.close();
});

describe('gflow run --wait: a real ultralytics training through the workers', () => {
  it('is recorded in MLflow and S3 and registered as candidate', async () => {
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.join(' '));
    });
    await withWorkers(workers, () => buildProgram(stack.settings).parseAsync(['node', 'gflow', 'run', scenarioFile, '--wait']));
    log.mockRestore();
    const output = printed.join('\n');

    const runId = /run id:\s+([0-9a-f]{32})/.exec(output)?.[1];
    expect(runId).toBeDefined();
    expect(output).toMatch(/model:\s+e2e-co\.ci-lab\.bench\.ppe@candidate \(version \d+\)/);
    expect(output).toContain(`${stack.settings.mlflow.url}/#/experiments/`);
    expect(output).toContain(`${stack.settings.temporal.uiUrl}/namespaces/default/workflows/`);

    const run = await stack.mlflow.getRun(runId!);
    const experiment = await stack.mlflow.getExperimentByName('e2e-co/ci-lab/bench');
    expect(run.info).toMatchObject({ status: 'FINISHED', run_name: 'ppe-yolov8n-train-e2e1', experiment_id: experiment?.experiment_id });
    expect(tagsOf(run)).toMatchObject({
      'site.customer': 'e2e-co',
      'site.region': 'ci',
      'task.type': 'ppe',
      'task.classes': CLASSES.join(','),
      'data.version': 'synthetic-1',
      'exp.type': 'train',
      'exp.design': 'single',
      'exp.version': 'e2e1',
      'gf.workflow_id': 'gf/single/e2e-co/ci-lab/bench/ppe-yolov8n-train-e2e1',
    });
    expect(paramsOf(run)).toMatchObject({ 'model.architecture': 'yolov8n.yaml', 'model.input_size': '64', 'train.epochs': '2', 'train.batch_size': '8' });

    for (const key of ['det.box_loss', 'det.mAP50']) {
      const history = await stack.mlflow.getMetricHistory(runId!, key);
      expect(history.map((m) => m.step)).toEqual(expect.arrayContaining([1, 2]));
    }
    const metrics = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['det.mAP50', 'det.mAP50_95', 'det.precision', 'det.recall', 'train.batch_size_effective']));
    expect(Object.keys(metrics).some((k) => k.startsWith('det.ap50.'))).toBe(true);
    expect(metrics['sys.gpu_power_w']).toBeUndefined();

    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toEqual(
      expect.arrayContaining(['config/scenario.yaml', 'weights/best.pt', 'weights/last.pt', 'results.csv', 'logs/executor.log']),
    );

    const candidate = await stack.mlflow.getModelVersionByAlias('e2e-co.ci-lab.bench.ppe', 'candidate');
    expect(candidate).toMatchObject({ run_id: runId, source: `${run.info.artifact_uri}/weights/best.pt` });
  });
});
