import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadScenarioFile, parseScenarioText, ScenarioFileError } from '../../scenarios/loader';
import { checkScenario } from '../../scenarios/validate';

const valid = `
name: ppe-welding-baseline
version: v2
type: train
site: { customer: donghwa-entec, region: busan, plant: plant1, zone: welding }
task: { type: ppe, classes: [headgear, harness, hook] }
model: { architecture: yolov8n.yaml, input_size: 640 }
dataset: { path: data/ppe/data.yaml, version: v1.2 }
training: { epochs: 100, batch_size: 16, learning_rate: 0.01 }
`;

function issuesOf(text: string): string[] {
  try {
    parseScenarioText(text, 'bad.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioFileError);
    return (err as ScenarioFileError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the scenario to be refused');
}

describe('scenario schema', () => {
  it('accepts a valid scenario and applies defaults', () => {
    const s = parseScenarioText(valid);
    expect(s.design).toBe('single');
    expect(s.environment).toEqual({ device: 'auto', precision: 'fp32', seed: 42, gpu_pool: 'default', workers: 2 });
    expect(s.training).toMatchObject({ optimizer: 'SGD', patience: 100, min_batch_size: 1 });
    expect(s.model.weights).toBeNull();
  });

  it.each(readdirSync(path.join(__dirname, '../../scenarios/examples')).filter((f) => f.endsWith('.yaml')))('accepts example %s', async (file) => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(path.join(__dirname, '../../scenarios/examples', file), 'utf8');
    expect(() => parseScenarioText(text, file)).not.toThrow();
  });

  it('names the field and the expectation, with the YAML line', () => {
    expect(issuesOf(valid.replace('input_size: 640', 'input_size: 650'))).toEqual(['model.input_size: expected a multiple of 32, got 650 (line 7)']);
  });

  it('rejects unknown keys, naming each one', () => {
    const issues = issuesOf(valid.replace('learning_rate: 0.01 }', 'learning_rate: 0.01, epocs: 3 }') + 'colour: red\n');
    expect(issues).toEqual(expect.arrayContaining(['training.epocs: unknown key (line 9)', 'colour: unknown key (line 10)']));
  });

  it('requires the block of the experiment type and design', () => {
    expect(issuesOf(valid.replace(/training:.*\n/, ''))).toEqual(['training: required for type: train, design: single']);
    expect(issuesOf(valid.replace('type: train', 'type: train\ndesign: sweep'))).toEqual(['sweep: required for type: train, design: sweep']);
  });

  it('reports missing fields and wrong enums', () => {
    const issues = issuesOf(valid.replace(/task:.*\n/, '').replace('type: train', 'type: training'));
    expect(issues).toEqual(expect.arrayContaining(['task: required (object)', expect.stringMatching(/^type: Invalid option: expected one of "train"\|"infer"\|"quant"/)]));
  });

  it('refuses names that would break MLflow or workflow ids', () => {
    expect(issuesOf(valid.replace('zone: welding', 'zone: weld/ing'))).toEqual([
      'site.zone: expected a zone of lowercase letters, digits, \'-\' or \'_\', got "weld/ing" (line 5)',
    ]);
  });

  it('refuses a remote weights name, an unknown device and duplicate classes', () => {
    const issues = issuesOf(
      valid
        .replace('input_size: 640 }', 'input_size: 640, weights: "" }')
        .replace('version: v1.2 }', 'version: v1.2 }\nenvironment: { device: gpu }')
        .replace('harness, hook', 'harness, harness'),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^model\.weights: /),
        expect.stringMatching(/^environment\.device: expected auto, cpu, cuda/),
        expect.stringMatching(/^task\.classes: class names must be unique/),
      ]),
    );
  });

  it('reports YAML syntax errors as such', () => {
    expect(issuesOf('name: [unclosed\n')[0]).toMatch(/^: YAML: /);
  });

  it('validates plain objects the same way (the workflow path)', () => {
    const checked = checkScenario({ name: 'x' });
    expect(checked.ok).toBe(false);
    if (!checked.ok) expect(checked.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['version', 'type', 'site', 'task', 'model', 'dataset']));
  });

  it('resolves comparison datasets against the scenario file and names a missing one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-loader-'));
    await mkdir(path.join(dir, 'site_a'));
    await writeFile(path.join(dir, 'site_a', 'data.yaml'), 'path: .\n');
    await writeFile(path.join(dir, 'best.pt'), 'weights');
    const file = path.join(dir, 'compare.yaml');
    await writeFile(
      file,
      valid
        .replace('type: train', 'type: infer\ndesign: comparison')
        .replace('dataset: { path: data/ppe/data.yaml, version: v1.2 }', 'dataset: { path: site_a/data.yaml, version: a }\nbenchmark: {}')
        .replace('input_size: 640 }', 'input_size: 640, weights: best.pt }')
        .replace('training: { epochs: 100, batch_size: 16, learning_rate: 0.01 }', 'comparison: { datasets: [ { path: site_a/data.yaml, version: a }, { path: site_b/data.yaml, version: b } ] }'),
    );
    const err = await loadScenarioFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScenarioFileError);
    expect((err as ScenarioFileError).issues).toEqual([{ path: 'comparison.datasets.1.path', message: `file not found: ${path.join(dir, 'site_b/data.yaml')}` }]);
    const { scenario } = await loadScenarioFile(file, { checkFiles: false });
    expect(scenario.comparison?.datasets?.map((d) => d.path)).toEqual([path.join(dir, 'site_a/data.yaml'), path.join(dir, 'site_b/data.yaml')]);
  });
});
