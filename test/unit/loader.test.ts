import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkScenarioFiles, loadScenarioFile, parseScenarioText, resolveScenarioPaths, ScenarioFileError } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';

/** Reading a scenario file: errors that name the file, field and line; paths resolved and checked. */

const valid = `name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: data.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;

function errorOf(run: () => unknown): ScenarioFileError {
  try {
    run();
  } catch (err) {
    if (err instanceof ScenarioFileError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioFileError');
}

describe('ScenarioFileError', () => {
  it('names the file and lists every issue', () => {
    const err = new ScenarioFileError('s.yaml', [
      { path: 'training.epochs', message: 'expected at least 1, got number 0' },
      { path: '', message: 'YAML: bad' },
    ]);
    expect([err.name, err.file, err.message]).toEqual(['ScenarioFileError', 's.yaml', 's.yaml: invalid scenario\n  - training.epochs: expected at least 1, got number 0\n  - (scenario): YAML: bad']);
    expect(err).toBeInstanceOf(Error);
  });
});

describe('parseScenarioText', () => {
  it('reports YAML errors by their first line, naming the file', () => {
    const err = errorOf(() => parseScenarioText('name: t\nname: u\n', 'dup.yaml'));
    expect(err.file).toBe('dup.yaml');
    expect(err.issues).toEqual([{ path: '', message: 'YAML: Map keys must be unique at line 2, column 1:' }]);
    expect(errorOf(() => parseScenarioText('a: [1\nb: 2\n')).file).toBe('<scenario>');
  });

  it('gives the line of the field, of a list item, or of the block a missing key belongs in', () => {
    const text = valid.replace('classes: [helmet, vest]', 'classes: [helmet, "a b"]').replace('batch_size: 16, ', '');
    expect(errorOf(() => parseScenarioText(text, 'x.yaml')).issues).toEqual([
      { path: 'task.classes.1', message: `expected a class name of letters, digits, '_', '.', '-', got "a b" (line 5)` },
      { path: 'training.batch_size', message: 'required (an integer) (line 8)' },
    ]);
    expect(errorOf(() => parseScenarioText(valid.replace('task: { type: ppe, classes: [helmet, vest] }\n', ''))).issues).toEqual([{ path: 'task', message: 'required (a mapping)' }]);
  });

  it('finds the line of a key that looks like a number, and of the eleventh item of a list', () => {
    const block = `name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task:
  type: ppe
  classes:
    - c0
    - c1
    - c2
    - c3
    - c4
    - c5
    - c6
    - c7
    - c8
    - c9
    - "c 10"
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: data.yaml, version: v1 }
training:
  epochs: 3
  batch_size: 16
  learning_rate: 0.01
  x1: 1
  1x: 2
`;
    expect(errorOf(() => parseScenarioText(block)).issues.map((i) => `${i.path}: ${i.message}`)).toEqual([
      `task.classes.10: expected a class name of letters, digits, '_', '.', '-', got "c 10" (line 18)`,
      'training.x1: unknown key (line 25)',
      'training.1x: unknown key (line 26)',
    ]);
  });

  it('names every alias without an anchor, with its field and line', () => {
    expect(errorOf(() => parseScenarioText(valid.replace('name: t', 'name: *a').replace('zone: z', 'zone: *b'))).issues).toEqual([
      { path: 'name', message: 'YAML: alias *a has no anchor &a before it (line 1)' },
      { path: 'site.zone', message: 'YAML: alias *b has no anchor &b before it (line 4)' },
    ]);
  });

  it('allows aliases enough for sharing blocks, not a flood of them', () => {
    const list = (n: number) => `x-shared: &s [1]\nx-uses: [${Array.from({ length: n }, () => '*s').join(', ')}]\n`;
    expect(errorOf(() => parseScenarioText(list(50) + valid)).issues).toEqual([
      { path: 'x-shared', message: 'unknown key (line 1)' },
      { path: 'x-uses', message: 'unknown key (line 2)' },
    ]);
    expect(errorOf(() => parseScenarioText(list(150) + valid)).cause).toBeInstanceOf(Error);
    expect(errorOf(() => parseScenarioText(list(150) + valid)).issues).toEqual([{ path: 'x-uses.0', message: expect.stringMatching(/^YAML: aliases expand to too much data \(.+\) \(line 2\)$/) }]);
  });
});

describe('resolveScenarioPaths', () => {
  const s = parseScenarioText(valid);

  it('makes local paths absolute against the base folder and leaves the rest', () => {
    const resolved = resolveScenarioPaths({ ...s, dataset: { ...s.dataset, path: 'sub/data.yaml' }, model: { ...s.model, architecture: 'cfg/my.yaml', weights: 'w/best.pt' } }, '/base');
    expect([resolved.dataset.path, resolved.model.architecture, resolved.model.weights]).toEqual(['/base/sub/data.yaml', '/base/cfg/my.yaml', '/base/w/best.pt']);
    const kept = resolveScenarioPaths({ ...s, dataset: { ...s.dataset, path: '/abs/data.yaml' }, model: { ...s.model, weights: 'models:/m@champion' } }, '/base');
    expect([kept.dataset.path, kept.model.architecture, kept.model.weights]).toEqual(['/abs/data.yaml', 'yolov8n.yaml', 'models:/m@champion']);
    expect(resolveScenarioPaths(s, '/base').model.weights).toBeNull();
    expect(resolveScenarioPaths(s, '/base')).toEqual({ ...s, dataset: { ...s.dataset, path: '/base/data.yaml' } });
  });

  it('resolves tracking files, comparison arms and swept architectures', () => {
    const infer = parseScenarioText(
      valid
        .replace('type: train', 'type: infer\ndesign: comparison')
        .replace(/training:.*\n/, 'benchmark: { tracking: { sequence: seq, ground_truth: seq/gt.txt } }\ncomparison: { datasets: [ { path: a.yaml, version: a }, { path: /b.yaml, version: b } ], models: [m/a.pt, "runs:/0123456789abcdef0123456789abcdef/best.pt"] }\n'),
    );
    const resolved = resolveScenarioPaths(infer, '/base');
    expect(resolved.benchmark!.tracking).toEqual({ sequence: '/base/seq', ground_truth: '/base/seq/gt.txt', tracker: 'bytetrack' });
    expect(resolved.benchmark!.batch_sizes).toEqual([1]);
    expect(resolved.comparison).toEqual({ ...infer.comparison, datasets: [{ path: '/base/a.yaml', version: 'a' }, { path: '/b.yaml', version: 'b' }], models: ['/base/m/a.pt', 'runs:/0123456789abcdef0123456789abcdef/best.pt'], architectures: undefined });
    const sweep = parseScenarioText(`${valid.replace('type: train', 'type: train\ndesign: sweep')}sweep: { parameters: { architecture: [yolov8s.yaml, w/x.pt], epochs: [1, 2] } }\n`);
    expect(resolveScenarioPaths(sweep, '/base').sweep!.parameters).toEqual({ architecture: ['yolov8s.yaml', '/base/w/x.pt'], epochs: [1, 2] });
    expect(resolveScenarioPaths({ ...sweep, sweep: { ...sweep.sweep!, parameters: { epochs: [1, 2] } } }, '/base').sweep!.parameters).toEqual({ epochs: [1, 2] });
    const comparison = parseScenarioText(`${valid.replace('type: train', 'type: train\ndesign: comparison')}comparison: { architectures: [yolov8s.yaml, w/x.pt] }\n`);
    expect(resolveScenarioPaths(comparison, '/base').comparison!.architectures).toEqual(['yolov8s.yaml', '/base/w/x.pt']);
  });
});

describe('checkScenarioFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-loader-'));
    await writeFile(path.join(dir, 'data.yaml'), 'path: .\n');
    await mkdir(path.join(dir, 'best_saved_model'));
    await writeFile(path.join(dir, 'best.pt'), 'w');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const at = (p: string) => path.join(dir, p);

  it('lists every missing path, sorted by field, naming the file', async () => {
    const s = parseScenarioText(valid);
    const scenario: Scenario = {
      ...s,
      design: 'comparison',
      type: 'infer',
      dataset: { ...s.dataset, path: at('nope.yaml') },
      model: { ...s.model, architecture: at('gone.pt'), weights: at('gone2.pt') },
      comparison: { datasets: [{ path: at('data.yaml'), version: 'a' }, { path: at('d2.yaml'), version: 'b' }], models: [at('best.pt'), at('m.pt')], architectures: ['yolov8s.yaml', at('a.pt')], metric: 'det.mAP50', goal: 'maximize', parallel: 2 },
    };
    const err = await checkScenarioFiles(scenario, 'x.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioFileError);
    expect((err as ScenarioFileError).file).toBe('x.yaml');
    expect((err as ScenarioFileError).issues).toEqual([
      { path: 'comparison.architectures.1', message: `file not found: ${at('a.pt')}` },
      { path: 'comparison.datasets.1.path', message: `file not found: ${at('d2.yaml')}` },
      { path: 'comparison.models.1', message: `file not found: ${at('m.pt')}` },
      { path: 'dataset.path', message: `file not found: ${at('nope.yaml')}` },
      { path: 'model.architecture', message: `file not found: ${at('gone.pt')}` },
      { path: 'model.weights', message: `file not found: ${at('gone2.pt')}` },
    ]);
  });

  it('names a missing tracking ground truth by its field', async () => {
    const s = parseScenarioText(valid);
    const infer: Scenario = { ...s, type: 'infer', dataset: { ...s.dataset, path: at('data.yaml') }, model: { ...s.model, weights: at('best.pt') }, benchmark: { batch_sizes: [1], warmup_runs: 1, benchmark_runs: 1, conf_threshold: 0.25, iou_threshold: 0.7, tracking: { sequence: dir, ground_truth: at('gt.txt'), tracker: 'bytetrack' } } };
    await expect(checkScenarioFiles(infer, 'x.yaml')).rejects.toMatchObject({ issues: [{ path: 'benchmark.tracking.ground_truth', message: `file not found: ${at('gt.txt')}` }] });
  });

  it('a benchmark may read an exported model folder; a quantization comparison and a dataset may not', async () => {
    const s = parseScenarioText(valid);
    const infer: Scenario = { ...s, type: 'infer', dataset: { ...s.dataset, path: at('data.yaml') }, model: { ...s.model, weights: at('best_saved_model') } };
    await expect(checkScenarioFiles(infer, 'x.yaml')).resolves.toBeUndefined();
    const variants: Scenario = { ...infer, design: 'comparison', comparison: { variants: [{ backend: 'onnx', precision: 'fp16' }], metric: 'det.mAP50', goal: 'maximize', parallel: 2 } };
    await expect(checkScenarioFiles(variants, 'x.yaml')).rejects.toMatchObject({ issues: [{ path: 'model.weights', message: `expected a file, got a folder: ${at('best_saved_model')}` }] });
    const train: Scenario = { ...infer, type: 'train' };
    await expect(checkScenarioFiles(train, 'x.yaml')).rejects.toMatchObject({ issues: [{ path: 'model.weights', message: `expected a file, got a folder: ${at('best_saved_model')}` }] });
    const folderData: Scenario = { ...infer, dataset: { ...infer.dataset, path: at('best_saved_model') } };
    await expect(checkScenarioFiles(folderData, 'x.yaml')).rejects.toMatchObject({ issues: [{ path: 'dataset.path', message: `expected a file, got a folder: ${at('best_saved_model')}` }] });
    const comparedModels: Scenario = { ...infer, design: 'comparison', comparison: { datasets: [{ path: at('data.yaml'), version: 'a' }], models: [at('best_saved_model'), `runs:/${'a'.repeat(32)}/best.pt`], metric: 'det.mAP50', goal: 'maximize', parallel: 2 } };
    await expect(checkScenarioFiles(comparedModels, 'x.yaml')).resolves.toBeUndefined();
  });

  it('reads a file where one is on disk, without reading remote references or architectures built by name', async () => {
    const s = parseScenarioText(valid);
    const ok: Scenario = { ...s, dataset: { ...s.dataset, path: at('data.yaml') }, model: { ...s.model, architecture: at('best.pt'), weights: 'models:/m@champion' } };
    await expect(checkScenarioFiles(ok, 'x.yaml')).resolves.toBeUndefined();
    const swept: Scenario = { ...ok, design: 'sweep', sweep: { parameters: { architecture: ['yolov8s.yaml', at('best.pt'), at('x.pt')] }, strategy: 'grid', max_runs: 50, parallel: 1, metric: 'det.mAP50_95', goal: 'maximize', seed: 0, fail_fast: false } };
    await expect(checkScenarioFiles(swept, 'x.yaml')).rejects.toMatchObject({ issues: [{ path: 'sweep.parameters.architecture.2', message: `file not found: ${at('x.pt')}` }] });
  });
});

describe('loadScenarioFile', () => {
  it('names a file it cannot read', async () => {
    const missing = path.join(os.tmpdir(), 'gflow-no-such-dir', 'x.yaml');
    const err = await loadScenarioFile(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioFileError);
    expect((err as ScenarioFileError).issues).toEqual([{ path: '', message: 'cannot read file (ENOENT)' }]);
    expect((err as ScenarioFileError).file).toBe(missing);
    expect((err as ScenarioFileError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('checks files by default, and not when asked', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-load-'));
    try {
      const file = path.join(dir, 's.yaml');
      await writeFile(file, valid);
      await expect(loadScenarioFile(file)).rejects.toMatchObject({ issues: [{ path: 'dataset.path', message: `file not found: ${path.join(dir, 'data.yaml')}` }] });
      await expect(loadScenarioFile(file, { checkFiles: false })).resolves.toMatchObject({ file, scenario: { dataset: { path: path.join(dir, 'data.yaml') } } });
      await writeFile(path.join(dir, 'data.yaml'), 'path: .\n');
      await expect(loadScenarioFile(file, {})).resolves.toMatchObject({ file });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
