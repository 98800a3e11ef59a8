import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { parse } from 'yaml';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { childRuns, connectStack, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * Issue 15 item 4 with real ultralytics: the schedule knobs of the training block and the
 * augmentation block reach `model.train` (ultralytics' own args.yaml in each trial's save dir
 * shows them), a swept augmentation field differs per trial, and MLflow records them as params.
 */

jest.setTimeout(15 * 60_000);

const CLASSES = ['helmet', 'vest'];

let stack: Stack;
let workers: Worker[];
let dataYaml: string;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-knobs-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 16, val: 8, classes: CLASSES });
  workers = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
});

afterAll(async () => {
  await stack?.close();
});

describe('training knobs reach ultralytics (real training, synthetic data)', () => {
  it('schedule and augmentation from the scenario and a swept augmentation field are in each trial’s args.yaml and params', async () => {
    const scenario = parseScenarioText(`
name: e2e-knobs
version: knobs1
type: train
design: sweep
site: { customer: e2e-co, region: ci, plant: lab, zone: knobs }
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
environment: { device: cpu, seed: 0, workers: 0 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.02, plots: false, lrf: 0.05, cos_lr: true, warmup_epochs: 0.5, weight_decay: 0.0007, momentum: 0.91 }
augmentation: { hsv_h: 0.02, degrees: 5, translate: 0.05, scale: 0.25, fliplr: 0.3, mixup: 0.1, close_mosaic: 0 }
sweep: { parameters: { augmentation.mosaic: [0, 1] }, parallel: 1 }
`);
    const result = await withWorkers(workers, async () => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>).result());
    expect(result).toEqual(expect.objectContaining({ total: 2, done: 2, failed: 0 }));

    const trials = (await childRuns(stack, result.runId)).sort((a, b) => Number(tagsOf(a)['sweep.index']) - Number(tagsOf(b)['sweep.index']));
    expect(trials).toHaveLength(2);
    for (const [i, trial] of trials.entries()) {
      const args = parse(await readFile(path.join(stack.settings.gpu.workDir, trial.info.run_id, 'train', 'args.yaml'), 'utf8')) as Record<string, unknown>;
      expect(args).toMatchObject({
        lr0: 0.02,
        lrf: 0.05,
        cos_lr: true,
        warmup_epochs: 0.5,
        weight_decay: 0.0007,
        momentum: 0.91,
        hsv_h: 0.02,
        degrees: 5,
        translate: 0.05,
        scale: 0.25,
        fliplr: 0.3,
        mixup: 0.1,
        close_mosaic: 0,
        mosaic: i === 0 ? 0 : 1,
      });
      expect(paramsOf(trial)).toMatchObject({
        'augmentation.mosaic': String(i),
        'aug.mosaic': String(i),
        'aug.hsv_h': '0.02',
        'aug.close_mosaic': '0',
        'train.lrf': '0.05',
        'train.cos_lr': 'true',
        'train.warmup_epochs': '0.5',
        'train.weight_decay': '0.0007',
        'train.momentum': '0.91',
      });
      expect(trial.info.status).toBe('FINISHED');
    }
  });
});
