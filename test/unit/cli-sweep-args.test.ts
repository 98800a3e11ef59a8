import path from 'node:path';
import { comparePatch, FlagError, paramFlags, parseParamFlag, sweepPatch, withDesign } from '../../cli/scenario-overrides';
import { workflowFor } from '../../cli/start-run';
import { WorkflowType } from '../../common/contract';
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

  it('merges a parameter given twice instead of keeping the last (issue 16)', () => {
    expect(paramFlags(['learning_rate=0.001', 'batch_size=8', 'learning_rate=[0.01, 0.1]'])).toEqual({ learning_rate: [0.001, 0.01, 0.1], batch_size: [8] });
    const s = withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate=0.001', 'learning_rate=0.01'] }));
    expect(s.sweep?.parameters).toEqual({ learning_rate: [0.001, 0.01] });
  });

  it('reads counts as whole numbers, naming the flag (issue 16)', () => {
    expect(() => sweepPatch({ maxRuns: 'abc' })).toThrow(/^--max-runs: expected a whole number, got "abc"$/);
    expect(() => sweepPatch({ parallel: '2.5' })).toThrow(/^--parallel: expected a whole number, got "2.5"$/);
    expect(() => sweepPatch({ seed: '' })).toThrow(/^--seed: expected a whole number, got ""$/);
    expect(sweepPatch({ maxRuns: '20', seed: '7' })).toEqual({ max_runs: 20, seed: 7 });
  });

  it('names the flag when a value cannot be read', () => {
    expect(() => parseParamFlag('learning_rate')).toThrow(/^-p\/--param: expected name=\[v1,v2,...\]/);
    expect(() => parseParamFlag('learning_rate=[0.1, [2]]')).toThrow(FlagError);
    expect(() => parseParamFlag('learning_rate=[0.1')).toThrow(/^-p\/--param learning_rate: cannot read "\[0\.1" as a list/);
    expect(() => parseParamFlag('=[1]')).toThrow(/^-p\/--param: expected name=/);
  });

  it('reads a range and dotted names, then checks them with the schema (issue 15)', () => {
    expect(parseParamFlag('learning_rate={min: 0.0001, max: 0.1, log: true}')).toEqual(['learning_rate', { min: 0.0001, max: 0.1, log: true }]);
    expect(parseParamFlag('augmentation.mosaic=[0, 0.5, 1]')).toEqual(['augmentation.mosaic', [0, 0.5, 1]]);
    const s = withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate={min: 0.0001, max: 0.1, log: true}', 'augmentation.mosaic=0,1'], strategy: 'random', maxRuns: '6' }));
    expect(s.sweep?.parameters).toEqual({ learning_rate: { low: 0.0001, high: 0.1, log: true }, 'augmentation.mosaic': [0, 1] });
    expect(() => paramFlags(['learning_rate=0.01', 'learning_rate={min: 0.001, max: 0.1}'])).toThrow(/^-p\/--param learning_rate: given twice, once as a range/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate={min: 0.1, max: 0.01}'], strategy: 'random', maxRuns: '6' }))).toThrow(/sweep\.parameters\.learning_rate\.max: expected more than min \(0\.1\), got 0\.01/);
  });

  it('keeps YAML types: booleans, exponents, quoted numbers as strings', () => {
    expect(parseParamFlag('seed=[1, 2]')).toEqual(['seed', [1, 2]]);
    expect(parseParamFlag('learning_rate=1e-3,0.01')).toEqual(['learning_rate', [0.001, 0.01]]);
    expect(parseParamFlag("architecture=['8', true]")).toEqual(['architecture', ['8', true]]);
  });

  it('merges the flags over the file, validated by the scenario schema', () => {
    const s = withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate=[0.001,0.01]', 'batch_size=8,16'], strategy: 'random', maxRuns: '3', parallel: '2', minimize: true, metric: 'det.box_loss' }));
    expect(s.design).toBe('sweep');
    expect(s.sweep).toEqual(expect.objectContaining({ parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, strategy: 'random', max_runs: 3, parallel: 2, goal: 'minimize', metric: 'det.box_loss' }));
  });

  it('lets flags win over the file’s sweep block; -p replaces its parameters, other fields stay', () => {
    const fromFile = { ...scenario, sweep: { parameters: { epochs: [1, 2] }, strategy: 'random' as const, max_runs: 10, parallel: 1, metric: 'det.mAP50', goal: 'minimize' as const, seed: 7, fail_fast: true } };
    const s = withDesign(fromFile, 'sweep', sweepPatch({ param: ['learning_rate=[0.1]'], maxRuns: '4' }));
    expect(s.sweep).toEqual({ parameters: { learning_rate: [0.1] }, strategy: 'random', max_runs: 4, parallel: 1, metric: 'det.mAP50', goal: 'minimize', seed: 7, fail_fast: true });
    expect(withDesign(fromFile, 'sweep', sweepPatch({ parallel: '3' })).sweep).toEqual(expect.objectContaining({ parameters: { epochs: [1, 2] }, parallel: 3 }));
    expect(workflowFor(s)).toBe(WorkflowType.sweep);
  });

  it('refuses what the schema refuses, naming the field', () => {
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['dropout=[0.1]'] }))).toThrow(/sweep\.parameters\.dropout: not a sweepable parameter/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['learning_rate=[-1]'] }))).toThrow(/sweep\.parameters\.learning_rate\.0/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['epochs=[2]'], maxRuns: '0' }))).toThrow(/sweep\.max_runs: expected at least 1, got number 0/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({ param: ['epochs=[2]'], strategy: 'bayes' }))).toThrow(/sweep\.strategy/);
    expect(() => withDesign(scenario, 'sweep', sweepPatch({}))).toThrow(/sweep\.parameters: required/);
    expect(() => withDesign({ ...scenario, type: 'infer', model: { ...scenario.model, weights: '/w.pt' } }, 'sweep', sweepPatch({ param: ['epochs=[2]'] }))).toThrow(/design: a sweep varies training parameters/);
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
    expect(workflowFor(s)).toBe(WorkflowType.comparison);
  });

  it('names the flag of a variant it cannot split, and the field of one the schema refuses', () => {
    expect(() => comparePatch({ quantVariants: 'onnx-fp32' })).toThrow(/^--quant-variants: expected backend_precision/);
    const patch = comparePatch({ quantVariants: 'onnx_fp8' });
    expect(() => withDesign({ ...scenario, type: 'quant', model: { ...scenario.model, weights: '/w.pt' }, quantization: { variants: [{ backend: 'onnx', precision: 'fp16' }], calibration_size: 1 } }, 'comparison', patch.fields, patch.kind)).toThrow(
      /comparison\.variants\.0\.precision/,
    );
  });

  it('replaces the file’s kind of comparison and keeps its other fields', () => {
    const fromFile = { ...scenario, design: 'comparison' as const, comparison: { architectures: ['yolov8n.yaml', 'yolov8s.yaml'], metric: 'det.recall', goal: 'maximize' as const, parallel: 3 } };
    const patch = comparePatch({ runIds: `${'a'.repeat(32)},${'b'.repeat(32)}` });
    expect(withDesign(fromFile, 'comparison', patch.fields, patch.kind).comparison).toEqual({ run_ids: ['a'.repeat(32), 'b'.repeat(32)], metric: 'det.recall', goal: 'maximize', parallel: 3 });
  });

  it('resolves relative --models and --architectures against the current directory (issue 16)', () => {
    const patch = comparePatch({ models: 'siteA/best.pt,models:/c.r-p.z.ppe@champion', datasets: 'siteA/data.yaml' });
    expect(patch.fields.models).toEqual([path.resolve('siteA/best.pt'), 'models:/c.r-p.z.ppe@champion']);
    expect(comparePatch({ architectures: 'yolov8n.yaml,w/best.pt' }).fields.architectures).toEqual(['yolov8n.yaml', path.resolve('w/best.pt')]);
  });

  it('labels datasets by their folder and refuses a kind the experiment type cannot run', () => {
    expect(comparePatch({ datasets: '/x/site_a/data.yaml,/y/site_b.yaml' }).fields.datasets).toEqual([
      { path: '/x/site_a/data.yaml', version: 'site_a' },
      { path: '/y/site_b.yaml', version: 'site_b' },
    ]);
    expect(comparePatch({ datasets: 's3://data/site_c/data.yaml' }).fields.datasets).toEqual([{ path: 's3://data/site_c/data.yaml', version: 'site_c' }]);
    const patch = comparePatch({ datasets: '/x/site_a/data.yaml' });
    expect(() => withDesign(scenario, 'comparison', patch.fields, patch.kind)).toThrow(/comparison\.datasets: a comparison of datasets needs type: infer/);
  });
});
