import { parseScenarioText } from '../../scenarios/loader';
import { architectureName, experimentName, parentRunName, registeredModelName, runKey, runName, workflowId } from '../../scenarios/naming';
import { scenarioParams, scenarioTags } from '../../scenarios/tracking-fields';

const s = parseScenarioText(`
name: ppe-welding-baseline
version: v2
type: train
site: { customer: donghwa-entec, region: busan, plant: plant1, zone: welding }
task: { type: ppe, classes: [headgear, harness, hook] }
model: { architecture: yolov8n.yaml, input_size: 640 }
dataset: { path: /data/ppe/data.yaml, version: v1.2 }
training: { epochs: 100, batch_size: 16, learning_rate: 0.01 }
`);

describe('naming', () => {
  it('follows docs/architecture.md §5', () => {
    expect(experimentName(s)).toBe('donghwa-entec/busan-plant1/welding');
    expect(runName(s)).toBe('ppe-yolov8n-train-v2');
    expect(runName(s, 3)).toBe('ppe-yolov8n-train-v2-3');
    expect(registeredModelName(s)).toBe('donghwa-entec.busan-plant1.welding.ppe');
    expect(registeredModelName(s, { backend: 'openvino', precision: 'int8' })).toBe('donghwa-entec.busan-plant1.welding.ppe__openvino_int8');
    expect(workflowId(s)).toBe('gf/single/donghwa-entec/busan-plant1/welding/ppe-yolov8n-train-v2');
  });

  it('registered model names carry no characters MLflow refuses', () => {
    expect(registeredModelName(s)).not.toMatch(/[/:]/);
  });

  it('names an architecture by its file name: .yaml dropped, .pt kept', () => {
    expect(architectureName('yolo11s.yaml')).toBe('yolo11s');
    expect(architectureName('/models/site-a/best.pt')).toBe('best.pt');
    expect(architectureName('/w/best.yaml.pt')).toBe('best.yaml.pt');
    expect(architectureName('configs/yaml.yaml')).toBe('yaml');
  });

  it('names the parent run of a pipeline, sweep or comparison by its design', () => {
    expect(parentRunName(s)).toBe('ppe-yolov8n-single-v2');
    expect(parentRunName({ ...s, design: 'sweep', model: { ...s.model, architecture: '/w/best.pt' } })).toBe('ppe-best.pt-sweep-v2');
  });

  it('run keys differ per trial and per workflow execution chain', () => {
    const a = runKey('gf/x', 'run-1', 'main');
    expect(a).toBe('gf/x@run-1#main');
    expect(new Set([a, runKey('gf/x', 'run-1', '2'), runKey('gf/x', 'run-2', 'main')]).size).toBe(3);
  });

  it('tags and params carry the scenario', () => {
    expect(scenarioTags(s)).toMatchObject({
      'site.customer': 'donghwa-entec',
      'site.zone': 'welding',
      'task.type': 'ppe',
      'task.classes': 'headgear,harness,hook',
      'data.version': 'v1.2',
      'exp.type': 'train',
      'exp.design': 'single',
      'exp.version': 'v2',
    });
    expect(scenarioParams(s)).toMatchObject({
      'model.architecture': 'yolov8n.yaml',
      'model.input_size': '640',
      'env.seed': '42',
      'train.epochs': '100',
      'train.batch_size': '16',
      'train.learning_rate': '0.01',
      'train.optimizer': 'SGD',
    });
    expect(Object.keys(scenarioParams(s))).not.toContain('model.weights');
  });
});
