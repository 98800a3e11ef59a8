import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CONTROL_QUEUE } from '../../common/contract';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { sweep } from '../../workflows/sweep';
import { childRuns, connectStack, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

/**
 * A GPU worker on a host with four devices (issue 11 item 1; GF_GPU_DEVICES=0,1,2,3 on this
 * GPU-less machine, the stand-in executor recording the CUDA_VISIBLE_DEVICES it was given): an
 * 8-trial sweep with parallel 4 runs four jobs at once, each on a device of its own, never two on
 * the same device at the same time, and every run records its device and host.
 */

jest.setTimeout(180_000);

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});

afterAll(async () => {
  await stack?.close();
});

interface Job {
  start: number;
  end: number;
  device: string | null;
}

it('four concurrent jobs see four different devices, never two the same', async () => {
  const timeline = path.join(await mkdtemp(path.join(os.tmpdir(), 'gflow-devices-')), 'timeline.jsonl');
  const scenario = parseScenarioText(`
name: devices
version: dev4
type: train
design: sweep
site: { customer: devices-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 3, batch_size: 8, learning_rate: 0.01 }
sweep: { parameters: { learning_rate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008] }, parallel: 4 }
`);
  const result = await withFakeGpu(stack, { bundle: await workflowBundle(), devices: ['0', '1', '2', '3'], env: { GF_FAKE_EPOCH_SECONDS: '2', GF_FAKE_TIMELINE: timeline } }, () =>
    stack.client.workflow.execute<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] }),
  );
  expect([result.total, result.done]).toEqual([8, 8]);

  const jobs = (await readFile(timeline, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Job);
  expect(jobs).toHaveLength(8);
  expect(new Set(jobs.map((j) => j.device))).toEqual(new Set(['0', '1', '2', '3']));
  const overlapping = (a: Job, b: Job) => a.start < b.end && b.start < a.end;
  for (const [i, a] of jobs.entries()) for (const b of jobs.slice(i + 1)) if (overlapping(a, b)) expect(a.device).not.toBe(b.device);
  // four at once at some moment: the host's four slots were used together
  expect(Math.max(...jobs.map((j) => jobs.filter((k) => k.start <= j.start && j.start < k.end).length))).toBe(4);

  const trials = await childRuns(stack, result.runId);
  expect(trials).toHaveLength(8);
  for (const run of trials) {
    const tags = tagsOf(run);
    expect(['0', '1', '2', '3']).toContain(tags['sys.gpu_index']);
    expect(tags['sys.gpu_name']).toBe(`gpu ${tags['sys.gpu_index']}`);
    expect(tags['sys.host']).toBe(stack.settings.gpu.hostId);
  }
});
