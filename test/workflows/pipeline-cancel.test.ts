import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { pipelineProgressQuery, progressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import { workflowId } from '../../scenarios/naming';
import { parseScenarioText } from '../../scenarios/loader';
import { connectStack, eventually, isAlive, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

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

const scenario = parseScenarioText(`
name: cancel-pipeline
version: pcancel
type: train
design: pipeline
site: { customer: test-co, region: ci, plant: lab, zone: bench }
task: { type: fire, classes: [fire, smoke] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 100, batch_size: 8, learning_rate: 0.01 }
quantization: { variants: [ { backend: onnx, precision: fp32 } ] }
`);

describe('cancelling a pipeline (stand-in executor)', () => {
  it('kills the executor of the running stage and ends the parent and stage runs KILLED', async () => {
    await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '1' } }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const train = stack.client.workflow.getHandle(`${workflowId(scenario)}/train`);
      const progress = await eventually(async () => {
        const p = await train.query(progressQuery);
        return p.training && p.training.epoch >= 1 ? p : undefined;
      });
      const pid = Number(await readFile(path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.pid'), 'utf8'));
      expect(isAlive(pid)).toBe(true);

      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(isAlive(pid)).toBe(false);

      const parent = await handle.query(pipelineProgressQuery);
      expect(parent.phase).toBe('cancelled');
      expect((await stack.mlflow.getRun(parent.runId!)).info.status).toBe('KILLED');
      const trainRun = await stack.mlflow.getRun(progress.runId!);
      expect(trainRun.info.status).toBe('KILLED');
      expect(trainRun.data.tags).toEqual(expect.arrayContaining([{ key: 'mlflow.parentRunId', value: parent.runId }]));
      expect((await train.describe()).status.name).toBe('CANCELLED');
    });
  });
});
