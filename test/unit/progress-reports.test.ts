import { mkdtemp, rm } from 'node:fs/promises';
import { CPU_DEVICE, DeviceSlots } from '../../activities/gpu/devices';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGpuActivities, type TrainInput, type TrainResult } from '../../activities/gpu/activities';
import { createS3Client } from '../../activities/storage/s3-client';
import type { StepMetrics } from '../../activities/tracking/activities';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import type { TrainingProgress } from '../../common/contract';
import { loadSettings } from '../../common/settings';
import { parseScenarioText } from '../../scenarios/loader';

/**
 * A long training must not grow its workflow's history by one signal per epoch: the train
 * activity (with the stand-in executor, no server) logs every epoch to MLflow but reports a
 * bounded number of epochs to the workflow.
 */

jest.setTimeout(60_000);

const FAKE_EXECUTOR = path.resolve(__dirname, '../fixtures/fake_executor.py');

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-progress-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

it('a 300-epoch training logs 300 epochs to MLflow and reports 50 evenly spaced ones to its workflow', async () => {
  const settings = loadSettings({ ...process.env, GF_STATE_DIR: workDir });
  const logged: StepMetrics[] = [];
  const reported: { workflowId: string; progress: TrainingProgress }[] = [];
  const gpu = createGpuActivities({
    python: settings.python,
    executors: { train: FAKE_EXECUTOR, benchmark: 'unused', export: 'unused' },
    models: { mlflow: new MlflowClient('http://127.0.0.1:9'), s3: createS3Client(settings.s3), store: settings.s3 },
    workDir,
    yoloConfigDir: workDir,
    hostQueue: 'host-queue',
    devices: new DeviceSlots([CPU_DEVICE], 1),
    hostId: 'test-host',
    tagRun: () => Promise.resolve(),
    env: { GF_FAKE_EPOCH_SECONDS: '0' },
    logMetrics: (_runId, steps) => Promise.resolve(void logged.push(...steps)),
    reportProgress: (workflowId, progress) => Promise.resolve(void reported.push({ workflowId, progress })),
  });
  const scenario = parseScenarioText(`
name: long
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: d1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 300, batch_size: 16, learning_rate: 0.01 }
`);
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'wf-long', runId: 'run-1' } });
  const result = await env.run<[TrainInput], TrainResult, typeof gpu.train>(gpu.train, { runId: 'a'.repeat(32), scenario });

  expect(result.epochsCompleted).toBe(300);
  expect(logged.map((l) => l.step)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  expect(reported).toHaveLength(50);
  expect(reported.every((r) => r.workflowId === 'wf-long')).toBe(true);
  expect(reported.slice(0, 3).map((r) => r.progress.epoch)).toEqual([6, 12, 18]);
  expect(reported[49].progress).toEqual(expect.objectContaining({ epoch: 300, epochs: 300 }));
});
