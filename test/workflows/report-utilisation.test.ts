import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { buildProgram } from '../../cli/gflow';
import { collectGpuJobs } from '../../cli/gpu-jobs';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { sweep } from '../../workflows/sweep';
import { connectStack, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(5 * 60_000);

let stack: Stack;
let dir: string;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-report-'));
});

afterAll(async () => {
  await stack?.close();
});

it('gflow report utilisation draws the slots of a finished sweep and prints its totals, from the jobs the histories recorded', async () => {
  const scenario = parseScenarioText(`
name: util
version: util1
type: train
design: sweep
site: { customer: util-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006] }, parallel: 4 }
`);
  const id = workflowId(scenario);
  const timeline = path.join(dir, 'executor-timeline.jsonl');
  const result = await withFakeGpu(stack, { bundle: await workflowBundle(), hosts: 2, slots: 2, env: { GF_FAKE_EPOCH_SECONDS: '0.3', GF_FAKE_TIMELINE: timeline } }, async () => {
    const handle = (await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
    return handle.result();
  });
  expect(result).toEqual(expect.objectContaining({ total: 6, done: 6, failed: 0 }));

  // the recorded jobs are the executors' runs: each history interval holds one executor run
  const jobs = (await collectGpuJobs(stack.client, id)).sort((a, b) => a.start - b.start);
  const runs = (await readFile(timeline, 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { start: number; end: number })
    .sort((a, b) => a.start - b.start);
  expect(jobs).toHaveLength(6);
  expect(runs).toHaveLength(6);
  expect(new Set(jobs.map((j) => j.outcome))).toEqual(new Set(['completed']));
  expect(new Set(jobs.map((j) => j.activity))).toEqual(new Set(['train']));
  for (const job of jobs) expect(['test-host-0', 'test-host-1']).toContain(job.host);
  runs.forEach((run, i) => {
    expect(run.start * 1000).toBeGreaterThanOrEqual(jobs[i].start - 50);
    expect(run.end * 1000).toBeLessThanOrEqual(jobs[i].end + 50);
  });

  const out = path.join(dir, 'slots.png');
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
  try {
    await buildProgram(stack.settings).parseAsync(['node', 'gflow', 'report', 'utilisation', id, '--out', out]);
  } finally {
    log.mockRestore();
  }
  const png = await readFile(out);
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
  expect(printed[0]).toMatch(new RegExp(`^GPU slots of ${id}: 6 jobs on [1-4] slot\\(s\\) of [12] host\\(s\\), makespan \\d+\\.\\d\\d s$`));
  expect(printed[1]).toMatch(/^ {2}busy \d+\.\d % \(\d+\.\d\d s of GPU time\); idle gap between jobs p50 (\d+\.\d\d s|–), p95 (\d+\.\d\d s|–) \(\d gaps\)$/);
  expect(printed.filter((line) => /^ {2}test-host-[01] #\d/.test(line))).not.toHaveLength(0);
  expect(printed.at(-1)).toBe(`  chart: ${out}`);
});
