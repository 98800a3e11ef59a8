import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadScenarioFile, parseScenarioText, ScenarioFileError } from '../../scenarios/loader';
import { ScenarioSchema } from '../../scenarios/schema';
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
    expect(issues).toEqual(expect.arrayContaining(['task: required (a mapping)', 'type: expected one of train, infer, quant, got string "training" (line 4)']));
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

describe('scenario schema: batch floor, metric names and goals (issue 16)', () => {
  const infer = valid
    .replace('type: train', 'type: infer')
    .replace('input_size: 640 }', 'input_size: 640, weights: best.pt }')
    .replace(/training:.*\n/, 'benchmark: { batch_sizes: [1, 8] }\n');
  const comparing = (comparison: string, text = infer) => `${text.replace('type: infer', 'type: infer\ndesign: comparison')}comparison: ${comparison}\n`;
  const runIds = '{ run_ids: [0123456789abcdef0123456789abcdef, fedcba9876543210fedcba9876543210]';

  it('refuses a min_batch_size above the batch size (#4)', () => {
    expect(issuesOf(valid.replace('batch_size: 16,', 'batch_size: 8, min_batch_size: 16,'))).toEqual([
      'training.min_batch_size: expected at most training.batch_size (8), got 16: it is the floor OOM halving stops at (line 9)',
    ]);
    expect(parseScenarioText(valid.replace('batch_size: 16,', 'batch_size: 16, min_batch_size: 16,')).training!.min_batch_size).toBe(16);
  });

  it('refuses metric names no run logs, naming the field and the closest key (#6)', () => {
    expect(issuesOf(`${valid.replace('type: train', 'type: train\ndesign: sweep')}sweep: { parameters: { learning_rate: [0.01] }, metric: metrics/mAP50(B) }\n`)).toEqual([
      expect.stringMatching(/^sweep\.metric: "metrics\/mAP50\(B\)" is not a metric a train run logs; did you mean det\.mAP50\?/),
    ]);
    expect(issuesOf(`${valid}promotion: { metric: det.mAP_50 }\n`)).toEqual([expect.stringMatching(/^promotion\.metric: "det\.mAP_50" is not a metric a train run logs; did you mean det\.mAP50\?/)]);
    expect(issuesOf(comparing('{ datasets: [ { path: d.yaml, version: a } ], metric: det.box_loss }'))).toEqual([
      expect.stringMatching(/^comparison\.metric: "det\.box_loss" is not a metric a benchmark run logs \(other kinds of run log it\)/),
    ]);
    expect(issuesOf(comparing('{ variants: [ { backend: onnx, precision: fp16 } ], metric: sys.bs16.fps }'))).toEqual([expect.stringMatching(/^comparison\.metric: .*did you mean sys\.bs1\.fps\?/)]);
    expect(issuesOf(`${valid}promotion: { metric: det.ap50.helmet }\n`)).toEqual([expect.stringMatching(/^promotion\.metric: .*did you mean det\.ap50\.headgear\?/)]);
  });

  it('accepts the keys each field reads, per class and per benchmarked batch size', () => {
    expect(parseScenarioText(`${valid}promotion: { metric: det.ap50.harness }\n`).promotion!.metric).toBe('det.ap50.harness');
    expect(parseScenarioText(comparing('{ datasets: [ { path: d.yaml, version: a } ], metric: sys.bs8.latency_ms_p95 }')).comparison!.metric).toBe('sys.bs8.latency_ms_p95');
    expect(parseScenarioText(comparing(`${runIds}, metric: comparison.speedup_ratio }`)).comparison!.metric).toBe('comparison.speedup_ratio');
    expect(parseScenarioText(comparing(`${runIds}, metric: quant.det.mAP50 }`)).comparison!.metric).toBe('quant.det.mAP50');
    const architectures = comparing('{ architectures: [yolov8n.yaml, yolov8s.yaml], metric: det.val_box_loss }', valid);
    expect(parseScenarioText(architectures).comparison!.metric).toBe('det.val_box_loss');
  });

  it('resolves the seeds\' short names and takes the goal from the metric unless one is given (#2, #6)', () => {
    const sweep = (fields: string) => parseScenarioText(`${valid.replace('type: train', 'type: train\ndesign: sweep')}sweep: { parameters: { learning_rate: [0.01] }, ${fields} }\n`).sweep!;
    expect(sweep('metric: mAP50')).toMatchObject({ metric: 'det.mAP50', goal: 'maximize' });
    expect(sweep('metric: det.box_loss')).toMatchObject({ metric: 'det.box_loss', goal: 'minimize' });
    expect(sweep('metric: det.box_loss, goal: maximize')).toMatchObject({ goal: 'maximize' });
    expect(parseScenarioText(`${valid}promotion: { metric: mAP50_95 }\n`).promotion).toEqual({ metric: 'det.mAP50_95', goal: 'maximize', min_improvement: 0, max_accuracy_drop: 0.01 });
    expect(parseScenarioText(comparing('{ datasets: [ { path: d.yaml, version: a } ], metric: sys.latency_ms }')).comparison).toMatchObject({ metric: 'sys.latency_ms', goal: 'minimize' });
  });

  it('a validated scenario validates again unchanged (workflows and trials parse it a second time)', () => {
    const s = parseScenarioText(`${valid.replace('type: train', 'type: train\ndesign: sweep')}sweep: { parameters: { batch_size: [16, 32] }, metric: mAP50 }\npromotion: { metric: det.box_loss }\n`);
    expect(ScenarioSchema.parse(s)).toEqual(s);
    const checked = checkScenario(JSON.parse(JSON.stringify(s)));
    expect(checked.ok && checked.scenario).toEqual(s);
  });
});
