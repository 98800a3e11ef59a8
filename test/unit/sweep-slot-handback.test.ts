import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CPU_DEVICE, DeviceSlots } from '../../activities/gpu/devices';
import { createGpuActivities, type TrainInput, type TrainResult } from '../../activities/gpu/activities';
import { createS3Client } from '../../activities/storage/s3-client';
import { MlflowClient } from '../../activities/tracking/mlflow-client';
import type { SweepSlot } from '../../common/contract';
import { loadSettings } from '../../common/settings';
import { parseScenarioText } from '../../scenarios/loader';

/**
 * A sweep trial's train job hands its GPU slot back the moment its executor ends with a result,
 * before its last metrics reach MLflow and before its activity completes (issue 12: no GPU second
 * waits for bookkeeping); a failed job keeps the slot, since its trial retries it.
 */

jest.setTimeout(60_000);

const FAKE_EXECUTOR = path.resolve(__dirname, '../fixtures/fake_executor.py');
const SLOT: SweepSlot = { sweepId: 'gf/sweep/c/r-p/z/ppe-yolov8n-train-v1', index: 7 };

const scenario = parseScenarioText(`
name: handback
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: d1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`);

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-handback-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The train activity on the stand-in executor, with metric delivery held until `deliver()`. */
function trainJob(env: NodeJS.ProcessEnv, sweepReachable = true) {
  const settings = loadSettings({ ...process.env, GF_STATE_DIR: workDir });
  const released: SweepSlot[] = [];
  let deliver!: () => void;
  const delivered = new Promise<void>((resolve) => (deliver = resolve));
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
    env: { GF_FAKE_EPOCH_SECONDS: '0', ...env },
    logMetrics: () => delivered,
    releaseSweepSlot: (slot) => (sweepReachable ? Promise.resolve(void released.push(slot)) : Promise.reject(new Error('Temporal unreachable'))),
  });
  const run = (input: Omit<TrainInput, 'scenario'>) =>
    new MockActivityEnvironment({ workflowExecution: { workflowId: `${SLOT.sweepId}/trial-7`, runId: 'run-1' } }).run<[TrainInput], TrainResult, typeof gpu.train>(gpu.train, { ...input, scenario });
  return { run, released, deliver };
}

it('a sweep trial’s job hands its slot back as its executor ends, while its last metrics are still on the way', async () => {
  const job = trainJob({});
  let finished = false;
  const result = job.run({ runId: 'b'.repeat(32), sweepSlot: SLOT }).finally(() => (finished = true));
  // the executor has ended, the metric stream still waits for MLflow, and the activity with it
  for (let waited = 0; job.released.length === 0 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  expect(job.released).toEqual([SLOT]);
  expect(finished).toBe(false);
  job.deliver();
  // the result says so: the trial does not signal its sweep a second time
  expect(await result).toEqual(expect.objectContaining({ epochsCompleted: 3, sweepSlotReleased: true }));
  expect(job.released).toEqual([SLOT]);
});

it('when the sweep cannot be told, the job still succeeds and leaves the release to its trial', async () => {
  const job = trainJob({}, false);
  job.deliver();
  const result = await job.run({ runId: 'e'.repeat(32), sweepSlot: SLOT });
  expect(result.epochsCompleted).toBe(3);
  expect(result.sweepSlotReleased).toBeUndefined();
});

it('a failed job keeps its slot (its trial retries it), and a job of no sweep has none to hand back', async () => {
  const failing = trainJob({ GF_FAKE_FAIL: 'data' });
  failing.deliver();
  await expect(failing.run({ runId: 'c'.repeat(32), sweepSlot: SLOT })).rejects.toThrow();
  expect(failing.released).toEqual([]);

  const single = trainJob({});
  single.deliver();
  const alone = await single.run({ runId: 'd'.repeat(32) });
  expect(alone.epochsCompleted).toBe(3);
  expect(alone.sweepSlotReleased).toBeUndefined();
  expect(single.released).toEqual([]);
});
