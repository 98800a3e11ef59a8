import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadScenarioFile, ScenarioFileError } from '../../scenarios/loader';

/** Issue 16, defect 5: every path a scenario names is resolved against its folder and checked before anything starts. */

const base = `
name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: data.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-refs-'));
  await writeFile(path.join(dir, 'data.yaml'), 'path: .\n');
  await mkdir(path.join(dir, 'weights', 'best_openvino_model'), { recursive: true });
  await writeFile(path.join(dir, 'weights', 'best_openvino_model', 'best.xml'), '<net/>');
  await writeFile(path.join(dir, 'weights', 'best.pt'), 'weights');
  await mkdir(path.join(dir, 'frames'));
  await writeFile(path.join(dir, 'gt.txt'), '1,1,10,10,20,20,1,-1,-1,-1\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function load(text: string, checkFiles = true) {
  const file = path.join(dir, `s-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, text);
  return loadScenarioFile(file, { checkFiles });
}

async function issuesOf(text: string): Promise<{ path: string; message: string }[]> {
  const err = await load(text).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ScenarioFileError)) throw new Error(`expected a ScenarioFileError, got ${String(err)}`);
  return err.issues;
}

const infer = (weights: string) => base.replace('type: train', 'type: infer').replace('input_size: 64 }', `input_size: 64, weights: ${weights} }`).replace(/training:.*\n/, 'benchmark: {}\n');

describe('scenario references', () => {
  it('resolves a .pt architecture against the scenario folder and refuses a missing one', async () => {
    expect(await issuesOf(base.replace('architecture: yolov8n.yaml', 'architecture: weights/missing.pt'))).toEqual([
      { path: 'model.architecture', message: `file not found: ${path.join(dir, 'weights/missing.pt')}` },
    ]);
    const { scenario } = await load(base.replace('architecture: yolov8n.yaml', 'architecture: weights/best.pt'));
    expect(scenario.model.architecture).toBe(path.join(dir, 'weights/best.pt'));
  });

  it('leaves an s3:// dataset as it is, for the CLI to check its manifest (a local file check would refuse it)', async () => {
    const uri = 's3://guardianflow/datasets/acme/ppe/v3/data.yaml';
    const { scenario } = await load(base.replace('path: data.yaml', `path: ${uri}`));
    expect(scenario.dataset.path).toBe(uri);
  });

  it('leaves an architecture built by name as it is', async () => {
    expect((await load(base)).scenario.model.architecture).toBe('yolov8n.yaml');
  });

  it('accepts an exported OpenVINO folder as the model of a benchmark', async () => {
    const { scenario } = await load(infer('weights/best_openvino_model/'));
    expect(scenario.model.weights).toBe(path.join(dir, 'weights/best_openvino_model'));
  });

  it('refuses a folder where a file is read: training weights, or a folder that is no exported model', async () => {
    const trainFrom = base.replace('input_size: 64 }', 'input_size: 64, weights: weights/best_openvino_model }');
    expect(await issuesOf(trainFrom)).toEqual([{ path: 'model.weights', message: `expected a file, got a folder: ${path.join(dir, 'weights/best_openvino_model')}` }]);
    expect(await issuesOf(infer('weights'))).toEqual([
      { path: 'model.weights', message: `expected a file, got a folder: ${path.join(dir, 'weights')} (an exported model folder is named *_openvino_model, *_saved_model, … or *.mlpackage)` },
    ]);
  });

  it('checks the tracking sequence folder and its ground truth', async () => {
    const tracking = (sequence: string, gt: string) => infer('weights/best.pt').replace('benchmark: {}', `benchmark: { tracking: { sequence: ${sequence}, ground_truth: ${gt} } }`);
    expect((await load(tracking('frames', 'gt.txt'))).scenario.benchmark?.tracking).toEqual(expect.objectContaining({ sequence: path.join(dir, 'frames'), ground_truth: path.join(dir, 'gt.txt') }));
    expect(await issuesOf(tracking('nope', 'gt.txt'))).toEqual([{ path: 'benchmark.tracking.sequence', message: `folder not found: ${path.join(dir, 'nope')}` }]);
    expect(await issuesOf(tracking('gt.txt', 'gt.txt'))).toEqual([{ path: 'benchmark.tracking.sequence', message: `expected a folder, got a file: ${path.join(dir, 'gt.txt')}` }]);
  });

  it('resolves and checks the architectures a sweep or a comparison names', async () => {
    const sweep = base.replace('type: train', 'type: train\ndesign: sweep') + 'sweep: { parameters: { architecture: [yolov8n.yaml, weights/best.pt, weights/gone.pt] } }\n';
    expect(await issuesOf(sweep)).toEqual([{ path: 'sweep.parameters.architecture.2', message: `file not found: ${path.join(dir, 'weights/gone.pt')}` }]);
    const compare = base.replace('type: train', 'type: train\ndesign: comparison') + 'comparison: { architectures: [yolov8s.yaml, weights/best.pt] }\n';
    expect((await load(compare)).scenario.comparison?.architectures).toEqual(['yolov8s.yaml', path.join(dir, 'weights/best.pt')]);
  });

  it('leaves runs:/ and models:/ to the GPU host and resolves without checking when asked', async () => {
    expect((await load(infer("'models:/c.r-p.z.ppe@champion'"))).scenario.model.weights).toBe('models:/c.r-p.z.ppe@champion');
    const { scenario } = await load(base.replace('data.yaml', 'elsewhere/data.yaml'), false);
    expect(scenario.dataset.path).toBe(path.join(dir, 'elsewhere/data.yaml'));
  });
});
