import type { WorkflowHandle } from '@temporalio/client';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import type { comparison } from '../../workflows/comparison';
import { childRuns, artifactKeys, connectStack, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(120_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

describe('comparison workflow (stand-in executor)', () => {
  it('architectures: one nested training per architecture, labelled, best picked, table and chart', async () => {
    const scenario = parseScenarioText(`
name: arch
version: arch
type: train
design: comparison
site: { customer: compare-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01 }
comparison: { architectures: [yolov8n.yaml, yolov8s.yaml, yolo11n.yaml], metric: det.mAP50, parallel: 2 }
`);
    const result = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.1' } }, async () =>
      ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof comparison>).result(),
    );
    expect(result).toEqual(expect.objectContaining({ rows: 3, failed: 0 }));
    const parent = await stack.mlflow.getRun(result.runId);
    expect(parent.info.run_name).toBe('ppe-yolov8n-comparison-arch');
    const arms = await childRuns(stack, result.runId);
    expect(arms.map((r) => tagsOf(r)['comparison.value']).sort()).toEqual(['yolo11n', 'yolov8n', 'yolov8s']);
    expect(arms.every((r) => tagsOf(r)['comparison.variable'] === 'architecture' && r.info.status === 'FINISHED')).toBe(true);
    expect(arms.map((r) => r.data.params?.find((p) => p.key === 'model.architecture')?.value).sort()).toEqual(['yolo11n.yaml', 'yolov8n.yaml', 'yolov8s.yaml']);
    expect(tagsOf(parent)).toEqual(expect.objectContaining({ 'exp.design': 'comparison', 'comparison.best_run_id': result.best!.runId }));
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toEqual(expect.arrayContaining(['comparison.csv', 'comparison_chart.png']));
  });
});
