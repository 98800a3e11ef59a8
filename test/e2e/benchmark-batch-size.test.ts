import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { buildProgram } from '../../cli/gflow';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { connectStack, metricsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(15 * 60_000);

const CLASSES = ['helmet', 'vest'];
const MODEL = 'bench-co.ci-lab.dock.ppe';
const COMMON = `
site: { customer: bench-co, region: ci, plant: lab, zone: dock }
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
environment: { device: cpu, seed: 0, workers: 0 }`;

let stack: Stack;
let dir: string;
let dataYaml: string;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
/** The version the training registered. */
let version: string;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-bench-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 32, val: 8, classes: CLASSES });
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/** A worker runs once: each command gets fresh ones. */
async function workers(): Promise<Worker[]> {
  return [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
}

/** `gflow run <file> --wait` in this process, with real workers; what it printed. */
async function gflowRun(name: string, yaml: string): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, yaml);
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
  try {
    await withWorkers(await workers(), () => buildProgram(stack.settings).parseAsync(['node', 'gflow', 'run', file, '--wait']));
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}

const runIdIn = (output: string) => /run id:\s+([0-9a-f]{32})/.exec(output)![1];

describe('real ultralytics on CPU: a registered version describes itself, and the benchmark says which batch size', () => {
  it('a trained version is tagged with architecture, input size, task, site, dataset, epochs and its accuracy', async () => {
    const output = await gflowRun(
      'train',
      `
name: bench-train
version: bt1
type: train
${COMMON}
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-3 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.01, plots: false }
`,
    );
    version = /model:\s+bench-co\.ci-lab\.dock\.ppe@candidate \(version (\d+)\)/.exec(output)![1];
    const run = await stack.mlflow.getRun(runIdIn(output));
    const tags = Object.fromEntries(((await stack.mlflow.getModelVersion(MODEL, version))?.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toEqual(
      expect.objectContaining({
        'model.architecture': 'yolov8n.yaml',
        'model.input_size': '64',
        'task.type': 'ppe',
        'site.experiment': 'bench-co/ci-lab/dock',
        'data.path': dataYaml,
        'data.version': 'synthetic-3',
        'train.epochs': '1',
        'train.epochs_completed': '1',
        'det.mAP50': String(metricsOf(run)['det.mAP50']),
        'det.mAP50_95': String(metricsOf(run)['det.mAP50_95']),
      }),
    );
  });

  it('per batch size: pre-process, inference and post-process; the best batch size and its throughput, printed by gflow run; the version gets its latency p95', async () => {
    const output = await gflowRun(
      'infer',
      `
name: bench-infer
version: bi1
type: infer
${COMMON}
model: { architecture: yolov8n.yaml, input_size: 64, weights: 'models:/${MODEL}/${version}' }
dataset: { path: ${dataYaml}, version: synthetic-3 }
benchmark: { batch_sizes: [1, 4], warmup_runs: 1, benchmark_runs: 5, latency_budget_ms: 60000 }
`,
    );
    const run = await stack.mlflow.getRun(runIdIn(output));
    const m = metricsOf(run);
    for (const n of [1, 4]) {
      const stages = ['preprocess_ms', 'inference_ms', 'postprocess_ms'].map((k) => m[`sys.bs${n}.${k}`]);
      for (const ms of stages) expect(ms).toBeGreaterThan(0);
      // ultralytics times the three stages inside the predict call the benchmark times whole
      expect(stages.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(m[`sys.bs${n}.latency_ms`]);
      // no GPU here: absent, not 0
      expect(m[`sys.bs${n}.gpu_memory_mb`]).toBeUndefined();
    }
    expect(m['sys.inference_ms']).toBe(m['sys.bs1.inference_ms']);
    const best = m['sys.bs4.fps'] > m['sys.bs1.fps'] ? 4 : 1;
    expect(m['sys.best_batch_size']).toBe(best);
    expect(m['sys.best_fps']).toBe(m[`sys.bs${best}.fps`]);
    const answer = tagsOf(run)['sys.batch_size_answer'];
    expect(answer).toMatch(new RegExp(`^${best}: \\d+\\.\\d images/s, p95 [\\d.]+ ms \\(within the 60000 ms budget\\)$`));
    expect(output).toContain(`best batch size: ${answer}`);

    // a benchmark of a registered version tells the registry its latency (a training could not)
    const tags = Object.fromEntries(((await stack.mlflow.getModelVersion(MODEL, version))?.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toEqual(expect.objectContaining({ 'sys.latency_ms_p95': String(m['sys.latency_ms_p95']), 'benchmark.run_id': run.info.run_id }));
  });

  it('no batch size within the latency budget: none is picked, the tag and the CLI say so', async () => {
    const output = await gflowRun(
      'infer-tight',
      `
name: bench-infer
version: bi2
type: infer
${COMMON}
model: { architecture: yolov8n.yaml, input_size: 64, weights: 'models:/${MODEL}@candidate' }
dataset: { path: ${dataYaml}, version: synthetic-3 }
benchmark: { batch_sizes: [1, 2], warmup_runs: 1, benchmark_runs: 3, latency_budget_ms: 0.001 }
`,
    );
    const run = await stack.mlflow.getRun(runIdIn(output));
    expect(run.info.status).toBe('FINISHED');
    expect(metricsOf(run)['sys.best_batch_size']).toBeUndefined();
    expect(metricsOf(run)['sys.best_fps']).toBeUndefined();
    const answer = tagsOf(run)['sys.batch_size_answer'];
    expect(answer).toMatch(/^none: no batch size within the 0\.001 ms latency budget \(smallest p95: [\d.]+ ms at batch [12]\)$/);
    expect(output).toContain(`best batch size: ${answer}`);
  });
});
