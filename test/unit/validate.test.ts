import { checkScenario, formatIssues } from '../../scenarios/validate';

/** How a zod issue becomes the message a user reads: what was expected, and what was given. */

const BASE = {
  name: 't',
  version: 'v1',
  type: 'train',
  site: { customer: 'c', region: 'r', plant: 'p', zone: 'z' },
  task: { type: 'ppe', classes: ['helmet'] },
  model: { architecture: 'yolov8n.yaml', input_size: 64 },
  dataset: { path: '/d/data.yaml', version: 'v1' },
  training: { epochs: 3, batch_size: 16, learning_rate: 0.01 },
};

function issuesOf(input: unknown): string[] {
  const checked = checkScenario(input);
  return checked.ok ? [] : checked.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('formatIssues', () => {
  it('one issue a line, the scenario itself named when the path is empty', () => {
    expect(formatIssues([{ path: 'training.epochs', message: 'expected an integer, got string "10"' }, { path: '', message: 'YAML: bad' }])).toBe('  - training.epochs: expected an integer, got string "10"\n  - (scenario): YAML: bad');
    expect(formatIssues([])).toBe('');
  });
});

describe('wrong types', () => {
  it('names what was expected and describes what was given', () => {
    expect(issuesOf({ ...BASE, training: { ...BASE.training, epochs: '10', plots: 1, learning_rate: true }, task: { type: 'ppe', classes: 'helmet' }, description: 5 })).toEqual([
      'description: expected a string, got number 5',
      'task.classes: expected a list, got string "helmet"',
      'training.epochs: expected an integer, got string "10"',
      'training.learning_rate: expected a number, got boolean true',
      'training.plots: expected true or false, got number 1',
    ]);
    expect(issuesOf({ ...BASE, site: 'busan', dataset: ['/d/data.yaml'], model: { ...BASE.model, weights: 7 } })).toEqual([
      'site: expected a mapping, got string "busan"',
      'model.weights: expected a string, got number 7',
      'dataset: expected a mapping, got a list',
    ]);
    expect(issuesOf({ ...BASE, design: 'sweep', sweep: { parameters: [1] } })).toEqual(['sweep.parameters: expected a mapping, got a list']);
    expect(issuesOf({ ...BASE, training: { ...BASE.training, epochs: 10n } })).toEqual(['training.epochs: expected an integer, got bigint 10']);
    expect(issuesOf({ ...BASE, training: { ...BASE.training, epochs: undefined } })).toEqual(['training.epochs: expected an integer, got undefined']);
    expect(issuesOf({ ...BASE, design: 'sweep', sweep: { parameters: { learning_rate: [null, [1], 0.1] } } })).toEqual([
      'sweep.parameters.learning_rate.0: expected a number, a string or a boolean, got null',
      'sweep.parameters.learning_rate.1: expected a number, a string or a boolean, got a list',
    ]);
  });

  it('a missing key is required, with what it takes', () => {
    expect(issuesOf({ ...BASE, site: { customer: 'c', region: 'r', plant: 'p' }, task: { type: 'ppe' }, training: { epochs: 3, batch_size: 16 } })).toEqual([
      'site.zone: required (a string)',
      'task.classes: required (a list)',
      'training.learning_rate: required (a number)',
    ]);
    expect(issuesOf({ ...BASE, training: { learning_rate: 0.1, batch_size: 16 } })).toEqual(['training.epochs: required (an integer)']);
    expect(issuesOf(null)).toEqual([': expected a mapping, got null']);
    expect(issuesOf('name: t')).toEqual([': expected a mapping, got string "name: t"']);
  });

  it('unknown keys are named one by one, at the top and inside a block', () => {
    expect(issuesOf({ ...BASE, colour: 'red', size: 2, site: { ...BASE.site, country: 'kr' } })).toEqual(['site.country: unknown key', 'colour: unknown key', 'size: unknown key']);
  });

  it('bounds say the limit and the value given', () => {
    expect(issuesOf({ ...BASE, training: { ...BASE.training, epochs: 0, batch_size: 2048 } })).toEqual([
      'training.epochs: expected at least 1, got number 0',
      'training.batch_size: expected at most 1024, got number 2048',
    ]);
    expect(issuesOf({ ...BASE, design: 'comparison', comparison: { architectures: ['yolov8n.yaml'] } })).toEqual(['comparison.architectures: expected at least 2 items, got 1']);
    expect(issuesOf({ ...BASE, dataset: { ...BASE.dataset, version: '' } })).toEqual(['dataset.version: expected at least 1 character, got string ""']);
    expect(issuesOf({ ...BASE, training: { ...BASE.training, learning_rate: -0.5 } })).toEqual(['training.learning_rate: expected more than 0, got number -0.5']);
  });

  it('keeps the schema\'s own messages, which already say what was given', () => {
    expect(issuesOf({ ...BASE, task: { type: 'ppe', classes: [] } })).toEqual(['task.classes: expected at least one class']);
  });
});
