import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { buildProgram } from '../../cli/gflow';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { childRuns, metricsOf, artifactKeys, connectStack, REPO, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(20 * 60_000);

const CLASSES = ['helmet', 'vest', 'harness'];
const SITE = 'site: { customer: e2e-co, region: ci, plant: lab, zone: pipe }';
const COMMON = `
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
environment: { device: cpu, seed: 0, workers: 0 }
benchmark: { batch_sizes: [1, 4], warmup_runs: 2, benchmark_runs: 5 }`;

let stack: Stack;
let dir: string;
let dataYaml: string;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-pipeline-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 64, val: 16, classes: CLASSES });
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

async function workers(): Promise<Worker[]> {
  return [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
}


async function aliasesOf(name: string): Promise<Record<string, string>> {
  const model = await stack.mlflow.getRegisteredModel(name);
  return Object.fromEntries((model?.aliases ?? []).map((a) => [a.alias, a.version]));
}

describe('train → quant → infer with real ultralytics on CPU', () => {
  let trainRunId: string;

  it('a pipeline scenario from the CLI: parent, train, quant and variant runs, gate, promotion, one infer run per champion', async () => {
    const file = path.join(dir, 'pipeline.yaml');
    await writeFile(file, `
name: e2e-pipeline
version: e2ep
type: train
design: pipeline
${SITE}
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01, plots: false }
quantization: { variants: [ { backend: onnx, precision: fp32 }, { backend: openvino, precision: int8 } ], calibration_size: 16 }
promotion: { metric: det.mAP50, min_improvement: 0, max_accuracy_drop: 1 }
${COMMON}
`);
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    await withWorkers(await workers(), () => buildProgram(stack.settings).parseAsync(['node', 'gflow', 'run', file, '--wait']));
    log.mockRestore();
    const output = printed.join('\n');
    expect(output).toContain('pipeline ppe-yolov8n-pipeline-e2ep finished');
    expect(output).toMatch(/promoted e2e-co\.ci-lab\.pipe\.ppe v\d+/);

    const experiment = (await stack.mlflow.getExperimentByName('e2e-co/ci-lab/pipe'))!;
    const [parent] = await stack.mlflow.searchRuns({ experimentIds: [experiment.experiment_id], filter: "attributes.run_name = 'ppe-yolov8n-pipeline-e2ep'" });
    expect(parent.info.status).toBe('FINISHED');
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toContain('summary.csv');

    const stages = await childRuns(stack, parent.info.run_id);
    const train = stages.find((r) => tagsOf(r)['exp.type'] === 'train')!;
    const quant = stages.find((r) => tagsOf(r)['exp.type'] === 'quant')!;
    // train, quant, and the infer stage: the trained model and both variants were promoted
    expect(stages).toHaveLength(5);
    trainRunId = train.info.run_id;
    expect(train.info.status).toBe('FINISHED');
    expect(metricsOf(quant)).toEqual(expect.objectContaining({ 'orig.det.mAP50': expect.any(Number), 'orig.sys.bs4.latency_ms': expect.any(Number) }));

    const variants = await childRuns(stack, quant.info.run_id);
    expect(variants.map((r) => r.info.run_name).sort()).toEqual(['ppe-yolov8n-quant-e2ep-onnx-fp32', 'ppe-yolov8n-quant-e2ep-openvino-int8']);
    for (const variant of variants) {
      expect(variant.info.status).toBe('FINISHED');
      expect(tagsOf(variant)['source.run_id']).toBe(trainRunId);
      expect(Object.keys(metricsOf(variant))).toEqual(
        expect.arrayContaining(['quant.det.mAP50', 'quant.sys.latency_ms', 'orig.det.mAP50', 'comparison.accuracy_drop_mAP50', 'comparison.speedup_ratio', 'comparison.compression_ratio']),
      );
      expect(Object.keys(metricsOf(variant)).some((k) => k.includes('gpu'))).toBe(false);
      const keys = await artifactKeys(stack.settings, variant.info.artifact_uri);
      expect(keys.some((k) => k.startsWith('exports/'))).toBe(true);
    }

    expect((await aliasesOf('e2e-co.ci-lab.pipe.ppe')).champion).toBeDefined();
    for (const name of ['e2e-co.ci-lab.pipe.ppe__onnx_fp32', 'e2e-co.ci-lab.pipe.ppe__openvino_int8']) {
      const champion = await stack.mlflow.getModelVersionByAlias(name, 'champion');
      expect(champion?.tags).toEqual(expect.arrayContaining([{ key: 'source.run_id', value: trainRunId }]));
    }

    // each champion's own benchmark, of the registered version its alias points at (mot.*: the infer test below)
    const infer = stages.filter((r) => tagsOf(r)['exp.type'] === 'infer');
    const names = ['e2e-co.ci-lab.pipe.ppe', 'e2e-co.ci-lab.pipe.ppe__onnx_fp32', 'e2e-co.ci-lab.pipe.ppe__openvino_int8'];
    const sources = await Promise.all(names.map(async (name) => `models:/${name}/${(await aliasesOf(name)).champion}`));
    expect(infer.map((r) => tagsOf(r)['model.source']).sort()).toEqual([...sources].sort());
    for (const run of infer) {
      expect(run.info.status).toBe('FINISHED');
      expect(tagsOf(run)['exp.design']).toBe('pipeline');
      expect(Object.keys(metricsOf(run))).toEqual(expect.arrayContaining(['det.mAP50', 'det.mAP50_95', 'sys.bs1.latency_ms', 'sys.bs1.latency_ms_p95', 'sys.bs4.latency_ms', 'sys.bs4.fps']));
    }
    expect(tagsOf(parent)['pipeline.infer']).toBe('finished');
    for (const source of sources) expect(output).toContain(`${source}: run `);
  });

  it('infer: benchmarks models:/…@champion with tracking metrics on a generated sequence', async () => {
    const { stdout } = await promisify(execFile)(stack.settings.python, [path.join(REPO, 'executors/synthetic_sequence.py'), path.join(dir, 'seq'), '--frames', '20', '--size', '64', '--objects', '2', '--classes', CLASSES.join(',')]);
    const sequence = stdout.trim();
    const scenario = parseScenarioText(`
name: e2e-infer
version: e2ei
type: infer
${SITE}
model: { architecture: yolov8n.yaml, input_size: 64, weights: 'models:/e2e-co.ci-lab.pipe.ppe@champion' }
dataset: { path: ${dataYaml}, version: synthetic-1 }
${COMMON.replace('benchmark_runs: 5 }', `benchmark_runs: 5, tracking: { sequence: ${sequence}/img1, ground_truth: ${sequence}/gt/gt.txt } }`)}
`);
    const result = await withWorkers(await workers(), async () => (await startScenario(stack.client, scenario)).result());
    const run = await stack.mlflow.getRun(result.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(Object.keys(metricsOf(run))).toEqual(
      expect.arrayContaining(['det.mAP50', 'det.mAP50_95', 'sys.bs1.latency_ms', 'sys.bs1.latency_ms_p95', 'sys.bs4.fps', 'sys.model_params_m', 'sys.cpu_util_pct', 'mot.hota', 'mot.mota', 'mot.idf1']),
    );
    expect(metricsOf(run)['sys.gpu_memory_peak_mb']).toBeUndefined();
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toEqual(expect.arrayContaining(['benchmark.json', 'config/scenario.yaml']));
  });

  it('quant: TensorRT on a host without it fails UnsupportedBackend before any export', async () => {
    const scenario = parseScenarioText(`
name: e2e-trt
version: e2et
type: quant
${SITE}
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
quantization: { variants: [ { backend: tensorrt, precision: fp16 } ], source_run_id: ${trainRunId} }
${COMMON}
`);
    const err = await withWorkers(await workers(), async () => (await startScenario(stack.client, scenario)).result().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    let cause: unknown = err;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    expect((cause as ApplicationFailure).type).toBe('UnsupportedBackend');
    expect((cause as ApplicationFailure).message).toMatch(/quantization\.variants\[0\]: TensorRT/);
  });

  it('comparison of datasets: every model on every dataset, the matrix as CSV and heat map', async () => {
    const other = await syntheticDataset(stack.settings, path.join(dir, 'shapes-b'), { train: 8, val: 8, classes: CLASSES });
    const scenario = parseScenarioText(`
name: e2e-matrix
version: e2em
type: infer
design: comparison
${SITE}
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
comparison:
  models: ['models:/e2e-co.ci-lab.pipe.ppe@champion', 'runs:/${trainRunId}/weights/last.pt']
  datasets: [ { path: ${dataYaml}, version: site-a }, { path: ${other}, version: site-b } ]
  metric: det.mAP50
${COMMON}
`);
    const result = await withWorkers(await workers(), async () => (await startScenario(stack.client, scenario)).result() as unknown as Promise<{ runId: string; rows: number; failed: number }>);
    expect(result).toEqual(expect.objectContaining({ rows: 4, failed: 0 }));
    const parent = await stack.mlflow.getRun(result.runId);
    const arms = await childRuns(stack, result.runId);
    expect(arms.map((r) => `${tagsOf(r)['comparison.model']} × ${tagsOf(r)['comparison.dataset']}`).sort()).toEqual([
      'e2e-co.ci-lab.pipe.ppe@champion × site-a',
      'e2e-co.ci-lab.pipe.ppe@champion × site-b',
      `run ${trainRunId.slice(0, 8)}/last × site-a`,
      `run ${trainRunId.slice(0, 8)}/last × site-b`,
    ]);
    for (const arm of arms) expect(metricsOf(arm)['det.mAP50']).toEqual(expect.any(Number));
    expect(tagsOf(parent)['comparison.best_run_id']).toBeDefined();
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toEqual(expect.arrayContaining(['comparison.csv', 'comparison_chart.png']));
  });

  it('comparison of quantization variants: original vs each export, variant runs labelled, best by quant metric', async () => {
    const scenario = parseScenarioText(`
name: e2e-variants
version: e2ev
type: infer
design: comparison
${SITE}
model: { architecture: yolov8n.yaml, input_size: 64, weights: 'runs:/${trainRunId}/weights/best.pt' }
dataset: { path: ${dataYaml}, version: synthetic-1 }
quantization: { variants: [ { backend: onnx, precision: fp32 } ], calibration_size: 8 }
comparison: { variants: [ { backend: onnx, precision: fp32 }, { backend: onnx, precision: fp16 } ], metric: det.mAP50 }
${COMMON}
`);
    const result = await withWorkers(await workers(), async () => (await startScenario(stack.client, scenario)).result() as unknown as Promise<{ runId: string; rows: number; best?: { runId: string; label: string } }>);
    expect(result.rows).toBe(2);
    const parent = await stack.mlflow.getRun(result.runId);
    const [quant] = await childRuns(stack, result.runId);
    expect(tagsOf(quant)).toEqual(expect.objectContaining({ 'exp.type': 'quant', 'comparison.variable': 'quantization' }));
    const variants = await childRuns(stack, quant.info.run_id);
    expect(variants.map((v) => tagsOf(v)['comparison.value']).sort()).toEqual(['onnx_fp16', 'onnx_fp32']);
    for (const v of variants) expect(Object.keys(metricsOf(v))).toEqual(expect.arrayContaining(['quant.det.mAP50', 'orig.det.mAP50', 'comparison.speedup_ratio']));
    expect(variants.map((v) => v.info.run_id)).toContain(result.best!.runId);
    expect(tagsOf(parent)['comparison.best_run_id']).toBe(result.best!.runId);
  });
});
