import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { runFolder, superviseJob, type JobDeps } from '../../activities/gpu/executor-job';
import { ResultSchemas, type ExecutorEvent } from '../../activities/gpu/protocol';
import { loadSettings } from '../../common/settings';
import { REPO, syntheticDataset } from '../support/harness';

/**
 * Issue 11 item 6: the real executors (train, benchmark, export) check their dataset and model
 * before any GPU time and fail non-retryable `InvalidDataset` / `InvalidModel`, naming the first
 * bad files and lines, through the same `superviseJob` the GPU activities use. Real ultralytics
 * loads the models; the weights files are made here from yolov8n.yaml (nothing is downloaded).
 */

jest.setTimeout(120_000);

const settings = loadSettings();
const CLASSES = ['helmet', 'vest'];
const ENVIRONMENT = { device: 'cpu', seed: 0, workers: 0, precision: 'fp32' };

let dir: string;
let deps: JobDeps;
let goodData: string;
let otherClassesWeights: string;
let corruptWeights: string;
let runs = 0;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-preflight-'));
  deps = { python: settings.python, workDir: path.join(dir, 'work'), yoloConfigDir: path.join(dir, 'yolo') };
  goodData = await syntheticDataset(settings, path.join(dir, 'good'), { train: 4, val: 2, classes: CLASSES });
  otherClassesWeights = path.join(dir, 'other-classes.pt');
  await promisify(execFile)(settings.python, [
    '-c',
    [
      'import sys, torch',
      'from ultralytics.nn.tasks import DetectionModel',
      'model = DetectionModel("yolov8n.yaml", nc=3, verbose=False)',
      'model.names = {0: "person", 1: "forklift", 2: "fire"}',
      'torch.save({"model": model}, sys.argv[1])',
    ].join('\n'),
    otherClassesWeights,
  ]);
  corruptWeights = path.join(dir, 'corrupt.pt');
  await writeFile(corruptWeights, 'PK\u0003\u0004 a download cut short');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A copy of the good dataset, changed by `spoil`; returns its data.yaml. */
async function spoiledDataset(name: string, spoil: (root: string) => Promise<unknown>): Promise<string> {
  const root = path.join(dir, name);
  await cp(path.dirname(goodData), root, { recursive: true });
  const yaml = path.join(root, 'data.yaml');
  await writeFile(yaml, (await readFile(yaml, 'utf8')).replace(/^path: .*$/m, `path: ${root}`));
  await spoil(root);
  return yaml;
}

const specs = {
  train: (data: string, weights: string | null = null) => ({
    model: { architecture: 'yolov8n.yaml', input_size: 64, weights },
    dataset: { path: data },
    classes: CLASSES,
    training: { epochs: 1, batch_size: 2, learning_rate: 0.01, optimizer: 'SGD', patience: 5, plots: false },
    environment: ENVIRONMENT,
    resume_from: null,
  }),
  benchmark: (data: string, model: string) => ({
    model_path: model,
    input_size: 64,
    dataset: { path: data },
    classes: CLASSES,
    benchmark: { batch_sizes: [1], warmup_runs: 1, benchmark_runs: 1, conf_threshold: 0.25, iou_threshold: 0.7 },
    environment: ENVIRONMENT,
    tracking: null,
  }),
  export: (data: string, weights: string) => ({
    weights,
    input_size: 64,
    dataset: { path: data },
    classes: CLASSES,
    variants: [{ backend: 'onnx', precision: 'fp32' }],
    calibration_size: 4,
    environment: ENVIRONMENT,
  }),
};

/** Runs a real executor as its activity would; the failure, the events it sent and what its run folder holds. */
async function job(executor: keyof typeof specs, spec: Record<string, unknown>) {
  const runDir = await runFolder(deps.workDir, `bbbbbbbb${String(++runs).padStart(8, '0')}`);
  const events: ExecutorEvent[] = [];
  const outcome = await new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') })
    .run(() => superviseJob<null, unknown>(deps, { runDir, executor: path.join(REPO, 'executors', `${executor}.py`), result: ResultSchemas[executor], heartbeat: null, spec, onEvent: (e) => void events.push(e) }))
    .catch((err: unknown) => err);
  expect(outcome).toBeInstanceOf(ApplicationFailure);
  return { failure: outcome as ApplicationFailure, events, files: await readdir(runDir), runDir };
}

/** Nothing was trained, exported or measured: no events but the error, no ultralytics output folder. */
function nothingStarted(run: Awaited<ReturnType<typeof job>>) {
  expect(run.events.map((e) => e.event)).toEqual(['error']);
  expect(run.files.sort()).toEqual(expect.not.arrayContaining(['train', 'exports', 'val', 'benchmark.json']));
}

describe('executor preflight: bad data fails InvalidDataset before any training', () => {
  it('bad label lines (4 values, a class id ≥ nc, a coordinate 1.5) are named by file and line', async () => {
    const data = await spoiledDataset('bad-labels', async (root) => {
      await appendFile(path.join(root, 'labels/train/train_00000.txt'), '0 0.5 0.5 0.2\n');
      await appendFile(path.join(root, 'labels/train/train_00001.txt'), '2 0.5 0.5 0.2 0.2\n');
      await appendFile(path.join(root, 'labels/train/train_00003.txt'), '1 1.5 0.5 0.2 0.2\n');
    });
    const run = await job('train', specs.train(data));
    expect([run.failure.type, run.failure.nonRetryable]).toEqual(['InvalidDataset', true]);
    const lines = run.failure.message.split('\n');
    expect(lines[0]).toMatch(/data\.yaml: 3 bad label line\(s\) in 3 train file\(s\); expected 'class x_center y_center width height', class ids 0\.\.1, coordinates in \[0, 1\]$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^ {2}labels\/train\/train_00000\.txt:\d+: 4 values, expected 5 \(class x_center y_center width height\)$/),
      expect.stringMatching(/^ {2}labels\/train\/train_00001\.txt:\d+: class id 2 is not one of 0\.\.1$/),
      expect.stringMatching(/^ {2}labels\/train\/train_00003\.txt:\d+: coordinate 1\.5 outside \[0, 1\]$/),
    ]);
    nothingStarted(run);
  });

  it('an empty image folder is refused, naming it', async () => {
    const data = await spoiledDataset('empty-val', async (root) => {
      for (const image of await readdir(path.join(root, 'images/val'))) await unlink(path.join(root, 'images/val', image));
    });
    const run = await job('train', specs.train(data));
    expect([run.failure.type, run.failure.nonRetryable]).toEqual(['InvalidDataset', true]);
    expect(run.failure.message).toMatch(/: val images \S+\/images\/val hold no images \(/);
    nothingStarted(run);
  });

  it('a missing data.yaml is refused, for every executor', async () => {
    const missing = path.join(dir, 'nowhere/data.yaml');
    for (const [executor, spec] of [['train', specs.train(missing)], ['export', specs.export(missing, corruptWeights)]] as const) {
      const run = await job(executor, spec);
      expect([run.failure.type, run.failure.nonRetryable, run.failure.message]).toEqual(['InvalidDataset', true, `ExecutorError: dataset.path: ${missing} does not exist`]);
      nothingStarted(run);
    }
  });
});

describe('executor preflight: bad models fail InvalidModel before any work', () => {
  it('a corrupt weights file: training from it and benchmarking it are refused', async () => {
    for (const [executor, spec] of [['train', specs.train(goodData, corruptWeights)], ['benchmark', specs.benchmark(goodData, corruptWeights)]] as const) {
      const run = await job(executor, spec);
      expect([run.failure.type, run.failure.nonRetryable]).toEqual(['InvalidModel', true]);
      expect(run.failure.message).toMatch(new RegExp(`^ExecutorError: (model\\.weights|model): ${corruptWeights} cannot be loaded as a YOLO model: \\w+: .+$`));
      nothingStarted(run);
    }
  });

  it("weights that detect other classes than the task's are refused for benchmark and export", async () => {
    for (const [executor, spec, field] of [['benchmark', specs.benchmark(goodData, otherClassesWeights), 'model'], ['export', specs.export(goodData, otherClassesWeights), 'quantization source']] as const) {
      const run = await job(executor, spec);
      expect([run.failure.type, run.failure.nonRetryable, run.failure.message]).toEqual([
        'InvalidModel',
        true,
        `ExecutorError: ${field}: ${otherClassesWeights} detects classes ['person', 'forklift', 'fire'], the scenario's task.classes are ['helmet', 'vest']`,
      ]);
      nothingStarted(run);
    }
  });
});

describe('failure messages from ultralytics are plain text', () => {
  it('undecodable images pass the preflight; ultralytics refuses them in colour, the failure message has no escape codes', async () => {
    const data = await spoiledDataset('undecodable', async (root) => {
      for (const split of ['train', 'val']) for (const image of await readdir(path.join(root, 'images', split))) await writeFile(path.join(root, 'images', split, image), 'not a png');
    });
    const run = await job('train', specs.train(data));
    expect(run.failure.message).toMatch(/^RuntimeError: No valid images found in /);
    expect(run.failure.message).toMatch(/^ {2}train: \S+train_00000\.png: ignoring corrupt image\/label/m);
    expect(run.failure.message).not.toContain('\x1b[');
    // ultralytics did colour it: the plain text is the executors' doing
    const log = await readFile(path.join(run.runDir, 'executor.log'), 'utf8');
    expect(log.split('\n').find((line) => line.includes('ignoring corrupt image'))).toContain('\x1b[');
  });
});
