import { comparePatch, FlagError, parseParamFlag, sweepPatch, withDesign } from '../../cli/scenario-overrides';
import { parseScenarioText } from '../../scenarios/loader';

const scenario = parseScenarioText(`
name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /d/data.yaml, version: v1 }
training: { epochs: 3, batch_size: 16, learning_rate: 0.01 }
`);

describe('gflow sweep flags', () => {
  it('reads -p values as typed lists in both syntaxes', () => {
    expect(parseParamFlag('learning_rate=[0.001, 0.01]')).toEqual(['learning_rate', [0.001, 0.01]]);
    expect(parseParamFlag('batch_size=8,16')).toEqual(['batch_size', [8, 16]]);
    expect(parseParamFlag('optimizer=[SGD,AdamW]')).toEqual(['optimizer', ['SGD', 'AdamW']]);
  });

  it('names the flag when a value cannot be read', () => {
    expect(() => parseParamFlag('learning_rate')).toThrow(/^-p\/--param: expected name=\[v1,v2,...\]/);
    expect(() => parseParamFlag('learning_rate=[0.1, [2]]')).toThrow(FlagError);
  });

  it('merges the flags over the file, validated by the scenario schema', () => {
    const s = withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate=[0.001,0.01]', 'batch_size=8,16'], strategy: 'random', maxRuns: '3', parallel: '2', minimize: true, metric: 'det.box_loss' }));
    expect(s.design).toBe('sweep');
    expect(s.sweep).toEqual(expect.objectContaining({ parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, strategy: 'random', max_runs: 3, parallel: 2, goal: 'minimize', metric: 'det.box_loss' }));
  });

  it('refuses what the schema refuses, naming the field', () => {
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['momentum=[0.9]'] }))).toThrow(/sweep\.parameters\.momentum: not a sweepable parameter/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate=[-1]'] }))).toThrow(/sweep\.parameters\.learning_rate\.0/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['epochs=[2]'], maxRuns: 'many' }))).toThrow(/sweep\.max_runs/);
  });
});

describe('gflow compare flags', () => {
  it('builds a comparison block; a kind on the command line replaces the file’s', () => {
    const patch = comparePatch({ quantVariants: 'onnx_fp32,openvino_int8', metric: 'det.mAP50' });
    expect(patch.kind).toBe(true);
    const s = withDesign({ ...scenario, type: 'infer', model: { ...scenario.model, weights: '/w/best.pt' }, benchmark: { batch_sizes: [1], warmup_runs: 1, benchmark_runs: 1, conf_threshold: 0.25, iou_threshold: 0.7 } }, 'comparison', patch.fields, patch.kind);
    expect(s.comparison?.variants).toEqual([
      { backend: 'onnx', precision: 'fp32' },
      { backend: 'openvino', precision: 'int8' },
    ]);
  });

  it('labels datasets by their folder and refuses a kind the experiment type cannot run', () => {
    expect(comparePatch({ datasets: '/x/site_a/data.yaml,/y/site_b.yaml' }).fields.datasets).toEqual([
      { path: '/x/site_a/data.yaml', version: 'site_a' },
      { path: '/y/site_b.yaml', version: 'site_b' },
    ]);
    const patch = comparePatch({ datasets: '/x/site_a/data.yaml' });
    expect(() => withDesign(scenario, 'comparison', patch.fields, patch.kind)).toThrow(/comparison\.datasets: a comparison of datasets needs type: infer/);
  });
});
