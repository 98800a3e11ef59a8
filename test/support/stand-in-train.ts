import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CPU_DEVICE, DeviceSlots } from '../../activities/gpu/devices';
import { createGpuActivities, type GpuDeps, type TrainInput, type TrainResult } from '../../activities/gpu/activities';
import { createS3Client } from '../../activities/storage/s3-client';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';

/**
 * The real `train` activity on the stand-in executor with no server: MLflow points at a closed
 * port (checkpoint uploads warn and go on), one CPU slot, epochs of 0 s. Tests pass the
 * deliveries they watch (`logMetrics`, `reportProgress`, `releaseSweepSlot`) and more executor env.
 */
export function standInTrain(workDir: string, deps: Pick<GpuDeps, 'logMetrics'> & Partial<GpuDeps>) {
  const settings = loadSettings({ ...process.env, GF_STATE_DIR: workDir });
  const gpu = createGpuActivities({
    python: settings.python,
    executors: { train: path.resolve(__dirname, '../fixtures/fake_executor.py'), benchmark: 'unused', export: 'unused' },
    models: { mlflow: new MlflowClient('http://127.0.0.1:9'), s3: createS3Client(settings.s3), store: settings.s3 },
    workDir,
    yoloConfigDir: workDir,
    hostQueue: 'host-queue',
    devices: new DeviceSlots([CPU_DEVICE], 1),
    hostId: 'test-host',
    tagRun: () => Promise.resolve(),
    ...deps,
    env: { GF_FAKE_EPOCH_SECONDS: '0', ...deps.env },
  });
  /** Runs one job as workflow `workflowId` would. */
  return (workflowId: string, input: TrainInput) =>
    new MockActivityEnvironment({ workflowExecution: { workflowId, runId: 'run-1' } }).run<[TrainInput], TrainResult, typeof gpu.train>(gpu.train, input);
}

/** A train scenario of `epochs` epochs on a dataset the stand-in never reads. */
export function standInScenario(epochs: number): Scenario {
  return parseScenarioText(`
name: stand-in
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: d1 }
environment: { device: cpu, workers: 0 }
training: { epochs: ${epochs}, batch_size: 16, learning_rate: 0.01 }
`);
}
