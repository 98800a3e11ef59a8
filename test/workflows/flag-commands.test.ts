import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { childRuns, connectStack, metricsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { gflow } from '../support/cli';

jest.setTimeout(180_000);

/**
 * `gflow infer`, `gflow quant`, and `gflow sweep` / `gflow compare` without a scenario file, through bin/gflow against the test
 * stack (stand-in executor, for speed: the real training through flags is test/e2e/flag-train.test.ts).
 */

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let sites: string;
let model: string;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-flag-cmds-'));
  sites = path.join(dir, 'sites.yaml');
  // a stand-in model: the figures the stand-in benchmark reports for it
  model = path.join(dir, 'best.pt');
  await writeFile(model, JSON.stringify({ mAP50: 0.55, latency_ms: 12 }));
  // the stand-in executor never reads the dataset (--no-check-files)
  await writeFile(sites, 'sites:\n  flag-bench: { customer: flagcmd-co, region: ci, plant: lab, zone: bench, dataset: { path: /nonexistent/data.yaml, version: synthetic-1 } }\n');
});

afterAll(async () => {
  await stack?.close();
});

const site = () => ['--sites', sites];
const common = ['--site', 'flag-bench', '--task', 'ppe', '--classes', 'helmet', '--epochs', '1', '--batch', '8', '--imgsz', '64', '--device', 'cpu', '--no-check-files', '--wait'];

/** The parent run of a sweep or comparison workflow. */
async function parentRun(workflowId: string) {
  const experiment = await stack.mlflow.getExperimentByName('flagcmd-co/ci-lab/bench');
  const [run] = await stack.mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`gf.workflow_id\` = '${workflowId}'` });
  return run;
}

describe('infer and quant built from flags', () => {
  const target = ['--site', 'flag-bench', '--task', 'ppe', '--classes', 'helmet', '--imgsz', '64', '--device', 'cpu', '--no-check-files', '--wait'];

  it('gflow infer -m best.pt benchmarks the model in one FINISHED run', async () => {
    const result = await withFakeGpu(stack, { bundle }, () => gflow(stack.settings, [...site(), 'infer', '-m', model, ...target, '--version', 'inf1', '--batch-sizes', '1']));
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect(result.stdout).toContain('started gf/single/flagcmd-co/ci-lab/bench/ppe-best.pt-infer-inf1');
    const run = await stack.mlflow.getRun(/run id:\s+([0-9a-f]{32})/.exec(result.stdout)![1]);
    expect(run.info.status).toBe('FINISHED');
    expect(metricsOf(run)).toMatchObject({ 'det.mAP50': 0.55, 'sys.latency_ms': 12 });
  });

  it('gflow quant -m best.pt --backend onnx --precision fp16 exports, benchmarks and registers the variant', async () => {
    const result = await withFakeGpu(stack, { bundle }, () => gflow(stack.settings, [...site(), 'quant', '-m', model, ...target, '--version', 'q1', '--backend', 'onnx', '--precision', 'fp16', '--batch-sizes', '1']));
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect((await stack.mlflow.getModelVersionByAlias('flagcmd-co.ci-lab.bench.ppe__onnx_fp16', 'candidate'))?.status).toBe('READY');
  });
});

describe('sweep and compare built from flags', () => {
  it('gflow sweep without a file runs its grid; --no-register leaves the registry alone', async () => {
    const id = 'gf/sweep/flagcmd-co/ci-lab/bench/ppe-yolov8n-train-sw1';
    const result = await withFakeGpu(stack, { bundle }, () =>
      gflow(stack.settings, [...site(), 'sweep', '-m', 'yolov8n.yaml', ...common, '--version', 'sw1', '-p', 'learning_rate=[0.001,0.01]', '--metric', 'mAP50', '--no-register']),
    );
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect(result.stdout).toContain(`started ${id}`);
    const parent = await parentRun(id);
    expect(parent.info.status).toBe('FINISHED');
    expect(tagsOf(parent)['best.run_id']).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(metricsOf(parent))).toContain('best.det.mAP50');
    expect((await childRuns(stack, parent.info.run_id)).map((r) => r.info.status)).toEqual(['FINISHED', 'FINISHED']);
    expect(await stack.mlflow.getModelVersionByAlias('flagcmd-co.ci-lab.bench.ppe', 'candidate')).toBeUndefined();
  });

  it('gflow compare without a file trains each architecture and picks the best', async () => {
    const id = 'gf/comparison/flagcmd-co/ci-lab/bench/ppe-yolov8n-train-cmp1';
    const result = await withFakeGpu(stack, { bundle }, () =>
      gflow(stack.settings, [...site(), 'compare', '-m', 'yolov8n.yaml', ...common, '--version', 'cmp1', '--architectures', 'yolov8n.yaml,yolov8s.yaml', '--metric', 'mAP50-95']),
    );
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect(result.stdout).toContain(`started ${id}`);
    const parent = await parentRun(id);
    expect(parent.info.status).toBe('FINISHED');
    expect(tagsOf(parent)['comparison.best_run_id']).toMatch(/^[0-9a-f]{32}$/);
    const arms = await childRuns(stack, parent.info.run_id);
    expect(arms.map((r) => tagsOf(r)['comparison.value']).sort()).toEqual(['yolov8n', 'yolov8s']);
  });
});
