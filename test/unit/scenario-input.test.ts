import { parseScenarioText, ScenarioFileError } from '../../scenarios/loader';
import { experimentName, registeredModelName, runName, workflowId } from '../../scenarios/naming';
import { checkScenario } from '../../scenarios/validate';

/** Issue 16: wrong types, YAML aliases, model references and names (defects 8–11). */

const valid = `
name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /d/data.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`;

const RUN_ID = '0123456789abcdef0123456789abcdef';

function issuesOf(text: string): string[] {
  try {
    parseScenarioText(text, 'bad.yaml');
  } catch (err) {
    if (!(err instanceof ScenarioFileError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected the scenario to be refused');
}

describe('a value of the wrong type says what was expected and what was given (defect 8)', () => {
  it('epochs: "10", device: 0, version: 2.0', () => {
    const text = valid.replace('epochs: 3', 'epochs: "10"').replace('version: v1\n', 'version: 2.0\n').replace('input_size: 64 }', 'input_size: 64 }\nenvironment: { device: 0 }');
    expect(issuesOf(text)).toEqual([
      'version: expected a string, got number 2 (line 3)',
      'environment.device: expected a string, got number 0 (line 8)',
      'training.epochs: expected an integer, got string "10" (line 10)',
    ]);
  });

  it('a fraction where an integer goes, a list where a mapping goes, a wrong word and a bound', () => {
    const text = valid.replace('batch_size: 16', 'batch_size: 1.5').replace('site: { customer: c, region: r, plant: p, zone: z }', 'site: [c, r]').replace('type: ppe', 'type: hat').replace('epochs: 3', 'epochs: 0');
    expect(issuesOf(text)).toEqual([
      'site: expected a mapping, got a list (line 5)',
      'task.type: expected one of ppe, fall, fire, collision, stuck, got string "hat" (line 6)',
      'training.epochs: expected at least 1, got number 0 (line 9)',
      'training.batch_size: expected an integer, got number 1.5 (line 9)',
    ]);
  });

  it('only an absent key is required', () => {
    expect(issuesOf(valid.replace('learning_rate: 0.01 ', ''))).toEqual(['training.learning_rate: required (a number) (line 9)']);
    expect(issuesOf(valid.replace('learning_rate: 0.01 ', 'learning_rate: null '))).toEqual(['training.learning_rate: expected a number, got null (line 9)']);
  });

  it('an absent choice is required, naming the choices', () => {
    expect(issuesOf(valid.replace('type: train\n', ''))).toEqual(['type: required (one of train, infer, quant)']);
  });

  it('the same from the workflow path (plain objects)', () => {
    const checked = checkScenario({ ...(parseScenarioText(valid) as object), version: 2 });
    expect(checked.ok ? [] : checked.issues).toEqual([{ path: 'version', message: 'expected a string, got number 2' }]);
  });
});

describe('YAML aliases are field errors, not stack traces (defect 9)', () => {
  it('an alias with no anchor names the field and line', () => {
    expect(issuesOf(valid.replace('name: t', 'name: *nope'))).toEqual(['name: YAML: alias *nope has no anchor &nope before it (line 2)']);
    expect(issuesOf(valid.replace('classes: [helmet]', 'classes: [helmet, *hat]'))).toEqual(['task.classes.1: YAML: alias *hat has no anchor &hat before it (line 6)']);
  });

  it('an alias bomb is refused, naming the first alias', () => {
    const lol = (name: string, of: string) => `${name}: &${name} [${Array.from({ length: 9 }, () => of).join(', ')}]\n`;
    const bomb = `${lol('a', '"lol"')}${lol('b', '*a')}${lol('c', '*b')}${lol('d', '*c')}${lol('e', '*d')}${lol('f', '*e')}${lol('g', '*f')}`;
    const issues = issuesOf(bomb + valid);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^b\.0: YAML: aliases expand to too much data \(.*\) \(line 2\)$/);
  });

  it('aliases that share a block stay allowed', () => {
    const s = parseScenarioText(valid.replace('name: t', 'name: &n t').replace('task: { type: ppe, classes: [helmet] }', 'task: { type: ppe, classes: [*n] }'));
    expect(s.task.classes).toEqual(['t']);
  });
});

describe('model references cannot leave their run (defect 10)', () => {
  const withWeights = (weights: string) => valid.replace('input_size: 64 }', `input_size: 64, weights: '${weights}' }`);

  it.each([
    [`runs:/${RUN_ID}/../../../../secret/x.pt`, '".." segment'],
    [`runs:/${RUN_ID}/weights/./best.pt`, '"." segment'],
    [`runs:/${RUN_ID}/weights//best.pt`, 'empty segment'],
    [`runs:/${RUN_ID}/`, 'empty segment'],
    ['runs:/not-a-run/best.pt', 'expected runs:/<32-hex run id>/<artifact path>'],
    ['models:/..@champion', 'expected models:/<name>@<alias> or models:/<name>/<version>'],
    ['s3://bucket/best.pt', 'expected a local path, runs:/<run id>/<path>'],
  ])('refuses %s', (ref, why) => {
    const issues = issuesOf(withWeights(ref));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^model\.weights: /);
    expect(issues[0]).toContain(why);
  });

  it('refuses them in comparison.models too, and a model listed twice', () => {
    const comparison = (models: string[]) =>
      valid
        .replace('type: train', 'type: infer\ndesign: comparison')
        .replace(/training:.*\n/, `benchmark: {}\ncomparison: { datasets: [ { path: /d/a.yaml, version: a } ], models: [${models.map((m) => `'${m}'`).join(', ')}] }\n`);
    expect(issuesOf(comparison(['/m/best.pt', `runs:/${RUN_ID}/../x.pt`]))).toEqual([expect.stringMatching(/^comparison\.models\.1: the artifact path of .* has a "\.\." segment/)]);
    expect(issuesOf(comparison(['/m/best.pt', '/m/best.pt']))).toEqual(['comparison.models.1: "/m/best.pt" is listed twice (line 11)']);
  });

  it('accepts the three forms', () => {
    for (const ref of [`runs:/${RUN_ID}/weights/best.pt`, 'models:/c.r-p.z.ppe@champion', 'models:/c.r-p.z.ppe/3', '../shared/best.pt', '/m/best_openvino_model']) {
      expect(parseScenarioText(withWeights(ref)).model.weights).toBe(ref);
    }
  });

  it('refuses a dataset URI other than s3:// (GPU hosts cache those)', () => {
    expect(issuesOf(valid.replace('path: /d/data.yaml', 'path: https://host/data.yaml'))).toEqual([
      'dataset.path: expected a local path or s3://<bucket>/<folder>/<data>.yaml (gflow data push), got "https://host/data.yaml" (line 8)',
    ]);
  });
});

describe('names are injective (defect 11)', () => {
  const site = (region: string, plant: string) => valid.replace('region: r, plant: p', `region: ${region}, plant: ${plant}`);

  it('refuses a hyphen in a region, so south-busan + plant1 cannot meet south + busan-plant1', () => {
    expect(issuesOf(site('south-busan', 'plant1'))).toEqual([
      'site.region: expected a region of lowercase letters, digits or \'_\', got "south-busan": no \'-\', which joins region and plant in the experiment name {customer}/{region}-{plant}/{zone} (use \'_\') (line 5)',
    ]);
    const a = parseScenarioText(site('south_busan', 'plant1'));
    const b = parseScenarioText(site('south', 'busan-plant1'));
    expect([experimentName(a), experimentName(b)]).toEqual(['c/south_busan-plant1/z', 'c/south-busan-plant1/z']);
    expect(registeredModelName(a)).not.toBe(registeredModelName(b));
    expect(workflowId(a)).not.toBe(workflowId(b));
  });

  it('keeps today’s names for today’s inputs', () => {
    const s = parseScenarioText(site('busan', 'plant1').replace('customer: c', 'customer: donghwa-entec').replace('zone: z', 'zone: welding'));
    expect(experimentName(s)).toBe('donghwa-entec/busan-plant1/welding');
    expect(runName(s)).toBe('ppe-yolov8n-train-v1');
  });

  it('gives yolov8n.yaml and yolov8n.pt different run names and workflow ids', () => {
    const yaml = parseScenarioText(valid);
    const pt = parseScenarioText(valid.replace('architecture: yolov8n.yaml', 'architecture: /w/yolov8n.pt'));
    expect([runName(yaml), runName(pt)]).toEqual(['ppe-yolov8n-train-v1', 'ppe-yolov8n.pt-train-v1']);
    expect(workflowId(yaml)).not.toBe(workflowId(pt));
    expect(issuesOf(valid.replace('architecture: yolov8n.yaml', 'architecture: /w/yolov8n.pt.yaml'))).toEqual([expect.stringMatching(/^model\.architecture: expected an ultralytics model config .*not \*\.pt\.yaml/)]);
  });

  it('refuses a version that would make {arch}-{type}-{version} readable two ways', () => {
    // arch rtdetr + type train + version infer-v1 would be the name of arch rtdetr-train + type infer + version v1
    expect(issuesOf(valid.replace('version: v1\n', 'version: infer-v1\n'))).toEqual([expect.stringMatching(/^version: expected a version without train, infer, quant, .* got "infer-v1"/)]);
    expect(parseScenarioText(valid.replace('version: v1\n', 'version: rand-a\n')).version).toBe('rand-a');
  });
});
