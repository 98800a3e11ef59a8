import { actionVersion, planAction } from '../../optimizer/action-scenario';
import { parsePolicyText } from '../../optimizer/policy-loader';
import { parseScenarioText } from '../../scenarios/loader';
import { scenarioTags } from '../../scenarios/tracking-fields';

/** An action's scenario: the champion's recorded scenario with only the rule's changes, and the tags that trace it. */

const BASE = parseScenarioText(`
name: weld-ppe
version: v3
type: train
site: { customer: acme, region: north, plant: p1, zone: weld }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8s.yaml, input_size: 640, weights: yolov8s.pt }
dataset: { path: /data/weld/data.yaml, version: d7 }
training: { epochs: 50, batch_size: 128, learning_rate: 0.01 }
tags: { team: vision }
`);

const POLICY = parsePolicyText(`
rules:
  - name: low-accuracy-retrain
    when: { metric: mAP50, comparison: "<", threshold: 0.75 }
    action: { type: sweep_retrain, parameters: { learning_rate: [0.001, 0.01] }, parallel: 2 }
    cooldown: 48h
    promotion: { gate: { metric: det.mAP50 } }
  - name: high-latency-quantize
    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }
    action: { type: quantize, variants: [{ backend: openvino, precision: int8 }] }
    cooldown: 24h
  - name: low-gpu-util-batch-up
    when: { metric: sys.gpu_util_pct, comparison: "<", threshold: 50 }
    action: { type: batch_up, factor: 16 }
    cooldown: 7d
`);

const origin = (rule: string) => ({ workflowId: `gf/optimizer/${rule}/acme/north-p1/weld/ppe/20415`, checkRunId: 'c0ffee', championRunId: 'abc123' });

it('sweep_retrain: a sweep of the champion’s scenario over the rule’s parameters, judged by the rule’s gate metric', () => {
  const planned = planAction(BASE, POLICY.rules[0], origin('low-accuracy-retrain'));
  expect(planned.workflowType).toBe('sweep');
  const s = planned.scenario;
  expect([s.type, s.design, s.version, s.model.architecture, s.model.weights, s.dataset.path, s.training?.epochs]).toEqual(['train', 'sweep', 'opt_low_accuracy_retrain_20415', 'yolov8s.yaml', 'yolov8s.pt', '/data/weld/data.yaml', 50]);
  expect(s.sweep).toMatchObject({ parameters: { learning_rate: [0.001, 0.01] }, strategy: 'grid', parallel: 2, metric: 'det.mAP50' });
  expect(scenarioTags(s)).toMatchObject({
    team: 'vision',
    'optimizer.rule': 'low-accuracy-retrain',
    'optimizer.check_run_id': 'c0ffee',
    'optimizer.workflow_id': 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/20415',
    'exp.version': 'opt_low_accuracy_retrain_20415',
  });
});

it('quantize: a quant run of the champion’s own weights in the rule’s variants', () => {
  const planned = planAction(BASE, POLICY.rules[1], origin('high-latency-quantize'));
  expect(planned.workflowType).toBe('singleRun');
  expect([planned.scenario.type, planned.scenario.design, planned.scenario.sweep]).toEqual(['quant', 'single', undefined]);
  expect(planned.scenario.quantization).toEqual({ variants: [{ backend: 'openvino', precision: 'int8' }], calibration_size: 300, source_run_id: 'abc123' });
});

it('batch_up: the same training with the batch multiplied, capped at the schema’s 1024', () => {
  const planned = planAction(BASE, POLICY.rules[2], origin('low-gpu-util-batch-up'));
  expect(planned.workflowType).toBe('singleRun');
  expect([planned.scenario.design, planned.scenario.training?.batch_size, planned.scenario.training?.learning_rate]).toEqual(['single', 1024, 0.01]);
  const noTraining = parseScenarioText(`
name: b
version: v1
type: infer
site: { customer: acme, region: north, plant: p1, zone: weld }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8s.yaml, input_size: 640, weights: models:/m/1 }
dataset: { path: /data/weld/data.yaml, version: d7 }
benchmark: {}
`);
  expect(() => planAction(noTraining, POLICY.rules[2], origin('low-gpu-util-batch-up'))).toThrow("low-gpu-util-batch-up: batch_up retrains, but the champion's scenario has no training block");
});

it('the product’s own tags win over a scenario’s tags; a bad tag key is named', () => {
  const withTags = (tags: string) => `name: t
version: v1
type: train
site: { customer: acme, region: north, plant: p1, zone: weld }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8s.yaml, input_size: 640 }
dataset: { path: /d/data.yaml, version: d7 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.01 }
tags: ${tags}
`;
  expect(scenarioTags(parseScenarioText(withTags('{ exp.version: forged }')))['exp.version']).toBe('v1');
  expect(() => parseScenarioText(withTags('{ "a b": x }'))).toThrow(/tags\.a b: expected an MLflow tag key of letters, digits, '_', '\.', '\/', '-', got "a b" \(line 9\)/);
});

it('the action’s version comes from the rule and the id’s window', () => {
  expect(actionVersion('high-latency-quantize', 'gf/optimizer/high-latency-quantize/a/b-c/d/fall/7')).toBe('opt_high_latency_quantize_7');
});
