import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError } from '../../cli/cli-error';
import { flagScenario } from '../../cli/flag-commands';
import { checkFlagScenario, scenarioInputFromFlags, type AllFlags } from '../../cli/flag-scenario';
import { buildProgram } from '../../cli/gflow';
import { FlagError } from '../../cli/scenario-overrides';
import { loadSettings } from '../../common/settings';
import { loadScenarioFile } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import { siteCatalogue } from '../../scenarios/site-catalogue-loader';

/** The flag-driven commands: flags → one scenario through the one schema, errors naming the flags, --save round trip. */

const SITES = siteCatalogue(path.join(__dirname, '../../sites.yaml'));
const NOW = new Date('2026-12-07T01:02:03Z');
/** Port 1: a command that got as far as connecting would fail "cannot reach Temporal", exit 1, not 2. */
const settings = loadSettings({ TEMPORAL_ADDRESS: '127.0.0.1:1' });
const gflow = (...args: string[]) => buildProgram(settings).exitOverride().parseAsync(['node', 'gflow', ...args]);

let dir: string;
let dataYaml: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-flags-'));
  dataYaml = path.join(dir, 'shapes', 'data.yaml');
  await mkdir(path.dirname(dataYaml));
  await writeFile(dataYaml, 'path: .\ntrain: images/train\nval: images/val\nnames: { 0: helmet, 1: vest }\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const build = (type: 'train' | 'infer' | 'quant', flags: AllFlags) => checkFlagScenario(scenarioInputFromFlags(type, flags, SITES, NOW), SITES);

function flagError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FlagError) return err.message;
    throw err;
  }
  throw new Error('expected a FlagError');
}

async function cliFailure(promise: Promise<unknown>): Promise<CliError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof CliError)) throw new Error(`expected a CliError, got ${String(err)}`);
  return err;
}

describe('train flags → scenario', () => {
  it('the seeds’ command line is a train scenario with their defaults, classes read from data.yaml', () => {
    const s = build('train', { data: dataYaml, model: 'yolov8s.yaml', epochs: '100', batch: '16', imgsz: '640', lr: '0.01', device: '0', customer: 'acme', region: 'busan', task: 'ppe' });
    expect(s).toMatchObject({
      name: 'cli-train',
      version: 'w20261207t010203',
      type: 'train',
      design: 'single',
      site: { customer: 'acme', region: 'busan', plant: 'plant1', zone: 'full' },
      task: { type: 'ppe', classes: ['helmet', 'vest'] },
      model: { architecture: 'yolov8s.yaml', input_size: 640, weights: null },
      dataset: { path: dataYaml, version: 'shapes' },
      environment: { device: '0' },
      training: { epochs: 100, batch_size: 16, learning_rate: 0.01 },
      register: true,
    });
    expect(build('train', { data: dataYaml, model: 'yolov8n.yaml', customer: 'a', region: 'r', task: 'ppe' }).training).toMatchObject({ epochs: 100, batch_size: 16, learning_rate: 0.01 });
  });

  it('--site takes the catalogue’s block and default dataset; --no-register and --classes are kept', () => {
    const s = build('train', { site: 'donghwa-busan-welding', model: 'yolov8n.yaml', task: 'ppe', classes: 'helmet,vest', register: false, version: 'v3' });
    expect(s.site).toEqual({ customer: 'donghwa-entec', region: 'busan', plant: 'plant1', zone: 'welding' });
    expect(s.dataset).toEqual({ path: '/data/donghwa-entec/welding/data.yaml', version: 'v1.2' });
    expect(s.register).toBe(false);
    expect(workflowId(s)).toBe('gf/single/donghwa-entec/busan-plant1/welding/ppe-yolov8n-train-v3');
  });

  it('every bad flag is named with the field it sets, all at once', () => {
    const message = flagError(() => build('train', { data: 'x.txt', model: 'yolov8n', epochs: '0', customer: 'Acme', region: 'bu-san', task: 'helmets', classes: 'a', imgsz: '100' }));
    expect(message).toContain('the scenario these flags describe is not valid:');
    for (const line of [
      '--customer (site.customer): expected a customer of lowercase letters',
      '--region (site.region): expected a region of lowercase letters',
      '--task (task.type): expected one of ppe, fall, fire, collision, stuck, got string "helmets"',
      '-m/--model (model.architecture): expected an ultralytics model config',
      '--imgsz (model.input_size): expected a multiple of 32, got 100',
      '-d/--data (dataset.path): expected the path of a YOLO data .yaml file',
      '--epochs (training.epochs): expected at least 1, got number 0',
    ]) {
      expect(message).toContain(line);
    }
  });

  it('a flag that is not a number is refused naming it, before the schema', () => {
    expect(flagError(() => build('train', { epochs: 'ten' }))).toBe('--epochs: expected a whole number, got "ten"');
    expect(flagError(() => build('train', { lr: '1e-3x' }))).toBe('--lr: expected a number, got "1e-3x"');
  });

  it('no site, an unknown site, --site with parts, and classes that cannot be read are refused clearly', () => {
    const missing = flagError(() => build('train', { model: 'yolov8n.yaml', task: 'ppe', data: path.join(dir, 'elsewhere/data.yaml') }));
    expect(missing).toContain('  - --site (site): required (a mapping): give --site <catalogue name>, or --customer and --region (with --plant, --zone)');
    expect(missing).toContain('--classes (task.classes): required (a list): give --classes a,b (or a dataset on this machine whose data.yaml names them)');
    expect(flagError(() => build('train', { site: 'donghwa-busan-weld', model: 'yolov8n.yaml', task: 'ppe', classes: 'a' }))).toContain('--site (site): unknown site "donghwa-busan-weld" in');
    expect(flagError(() => build('train', { site: 'donghwa-busan-welding', zone: 'x' }))).toBe('--site and --zone: name the site from the catalogue or give its parts, not both');
  });
});

describe('register: false', () => {
  it('is refused for a pipeline, which promotes what it registers', () => {
    const input = { ...scenarioInputFromFlags('train', { site: 'donghwa-busan-welding', model: 'yolov8n.yaml', task: 'ppe', classes: 'a', register: false }, SITES, NOW), design: 'pipeline', quantization: { variants: [{ backend: 'onnx', precision: 'fp32' }] } };
    expect(flagError(() => checkFlagScenario(input, SITES))).toContain('  - --no-register (register): a pipeline promotes what it registers: it needs register: true');
  });

  it('is refused for a quant run rather than ignored (its variants are always registered)', () => {
    const input = { ...scenarioInputFromFlags('quant', { site: 'donghwa-busan-welding', sourceRun: 'abc', arch: 'yolov8n.yaml', task: 'ppe', classes: 'a' }, SITES, NOW), register: false };
    expect(flagError(() => checkFlagScenario(input, SITES))).toContain('  - --no-register (register): a quant run registers each variant: register: false goes with type: train');
  });
});

describe('infer and quant flags → scenario', () => {
  it('infer -m runs:/… -d data.yaml --batch-sizes 1,4,8,16 needs --arch for a remote model; a local .pt names itself', () => {
    const run = 'runs:/0123456789abcdef0123456789abcdef/weights/best.pt';
    expect(flagError(() => build('infer', { model: run, data: dataYaml, customer: 'a', region: 'r', task: 'ppe' }))).toContain('--arch (model.architecture): required');
    const s = build('infer', { model: run, arch: 'yolov8s.yaml', data: dataYaml, batchSizes: '1,4,8,16', customer: 'a', region: 'r', task: 'ppe' });
    expect(s).toMatchObject({ type: 'infer', model: { architecture: 'yolov8s.yaml', weights: run }, benchmark: { batch_sizes: [1, 4, 8, 16] } });
    const local = build('infer', { model: 'w/best.pt', data: dataYaml, customer: 'a', region: 'r', task: 'ppe' });
    expect(local.model).toMatchObject({ architecture: path.resolve('w/best.pt'), weights: path.resolve('w/best.pt') });
    expect(flagError(() => build('infer', { model: 'runs:/nope', arch: 'yolov8s.yaml', data: dataYaml, customer: 'a', region: 'r', task: 'ppe' }))).toContain('-m/--model (model.weights): expected runs:/<32-hex run id>/<artifact path>');
  });

  it('quant -s <run> --backend openvino --precision int8', () => {
    const s = build('quant', { sourceRun: 'abc123', arch: 'yolov8s.yaml', data: dataYaml, backend: 'openvino', precision: 'int8', customer: 'a', region: 'r', task: 'ppe' });
    expect(s).toMatchObject({ type: 'quant', quantization: { source_run_id: 'abc123', variants: [{ backend: 'openvino', precision: 'int8' }] } });
    expect(flagError(() => build('quant', { sourceRun: 'abc123', arch: 'yolov8s.yaml', data: dataYaml, backend: 'coreml', customer: 'a', region: 'r', task: 'ppe' }))).toContain(
      '--backend/--precision (quantization.variants.0.backend): expected one of onnx, openvino, tensorrt, got string "coreml"',
    );
  });
});

describe('gflow train | infer | quant | sweep | compare on the command line (refused before Temporal)', () => {
  it('--save writes the scenario, which reads back to the same scenario, site name and all', async () => {
    const file = path.join(dir, 'saved.yaml');
    const flags = { site: 'donghwa-busan-welding', model: 'yolov8n.yaml', task: 'ppe', classes: 'helmet', epochs: '3', version: 'v7', save: file };
    const built = await flagScenario('train', flags).load();
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(/^# written by gflow train --save/);
    expect(text).toContain('site: donghwa-busan-welding');
    expect((await loadScenarioFile(file, { checkFiles: false, sites: SITES })).scenario).toEqual(built);
    await expect(flagScenario('train', flags).load()).rejects.toThrow(`--save: ${file} exists; choose another file`);
  });

  it('a bad flag exits 2 naming it', async () => {
    const err = await cliFailure(gflow('train', '-d', dataYaml, '-m', 'yolov8n.yaml', '--customer', 'a', '--region', 'r', '--task', 'ppe', '--batch', '0', '--no-check-files'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('command-line flags: the scenario these flags describe is not valid:\n  - --batch (training.batch_size): expected at least 1, got number 0');
  });

  it('a dataset that is not on this machine is named (unless --no-check-files)', async () => {
    const err = await cliFailure(gflow('infer', '-m', path.join(dir, 'none.pt'), '-d', dataYaml, '--customer', 'a', '--region', 'r', '--task', 'ppe'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain(`model.weights: file not found: ${path.join(dir, 'none.pt')}`);
  });

  it('sweep and compare without a file take the same flags; with a file they refuse them', async () => {
    const sweep = await cliFailure(gflow('sweep', '-d', dataYaml, '-m', 'yolov8n.yaml', '--customer', 'a', '--region', 'r', '--task', 'ppe', '-p', 'learning_rate=[0.01,2]', '--metric', 'mAP50', '--no-check-files'));
    expect(sweep.exitCode).toBe(2);
    expect(sweep.message).toContain('  - -p/--param (sweep.parameters.learning_rate.1): ');
    const compare = await cliFailure(gflow('compare', '-d', dataYaml, '-m', 'yolov8n.yaml', '--customer', 'a', '--region', 'r', '--task', 'ppe', '--architectures', 'yolov8n.yaml', '--metric', 'latency_p95', '--no-check-files'));
    expect(compare.message).toContain('--architectures (comparison.architectures): expected at least 2 items');
    expect(compare.message).toContain('--metric (comparison.metric): "sys.latency_ms_p95" is not a metric a train run logs');
    const withFile = await cliFailure(gflow('sweep', dataYaml, '--epochs', '3', '--customer', 'a'));
    expect(withFile.exitCode).toBe(2);
    expect(withFile.message).toBe(`${dataYaml}: --customer, --epochs: describe a scenario without a file; the file says these (edit it, or leave the file out)`);
  });
});
