import { parseScenarioText } from '../../scenarios/loader';
import { scenarioParams, scenarioTags } from '../../scenarios/tracking-fields';

/** The MLflow tags and params a scenario's runs carry, written out in full for the blocks a scenario may have. */

const pipeline = parseScenarioText(`
name: fire-boiler-pipeline
version: v4
description: nightly
type: train
design: pipeline
site: { customer: hanil-steel, region: pohang, plant: plant2, zone: boiler-room }
task: { type: fire, classes: [fire, smoke] }
model: { architecture: yolov8s.yaml, input_size: 640, weights: /w/start.pt }
dataset: { path: /data/fire/data.yaml, version: v2.1, dvc_hash: abc123, image_count: 900 }
environment: { device: cuda:1, precision: fp16, seed: 7, gpu_pool: big, workers: 4 }
training: { epochs: 80, batch_size: 32, learning_rate: 0.02, optimizer: AdamW, patience: 15, min_batch_size: 8, plots: false }
benchmark: { batch_sizes: [1, 8], warmup_runs: 3, benchmark_runs: 20, tracking: { sequence: /seq/frames, ground_truth: /seq/gt.txt } }
quantization:
  variants: [ { backend: onnx, precision: fp16 }, { backend: openvino, precision: int8 } ]
  calibration_size: 64
promotion: { metric: det.mAP50_95 }
`);

describe('scenario tags and params', () => {
  it('tags say where the run belongs, every value a string', () => {
    expect(scenarioTags(pipeline)).toEqual({
      'site.customer': 'hanil-steel',
      'site.region': 'pohang',
      'site.plant': 'plant2',
      'site.zone': 'boiler-room',
      'site.experiment': 'hanil-steel/pohang-plant2/boiler-room',
      'task.type': 'fire',
      'task.classes': 'fire,smoke',
      'task.num_classes': '2',
      'data.path': '/data/fire/data.yaml',
      'data.version': 'v2.1',
      'data.dvc_hash': 'abc123',
      'data.image_count': '900',
      'exp.name': 'fire-boiler-pipeline',
      'exp.type': 'train',
      'exp.design': 'pipeline',
      'exp.version': 'v4',
    });
  });

  it('params carry every block the scenario fixes: lists joined, nested blocks prefixed, variants named', () => {
    expect(scenarioParams(pipeline)).toEqual({
      'model.architecture': 'yolov8s.yaml',
      'model.input_size': '640',
      'model.weights': '/w/start.pt',
      'env.device': 'cuda:1',
      'env.precision': 'fp16',
      'env.seed': '7',
      'env.gpu_pool': 'big',
      'train.epochs': '80',
      'train.batch_size': '32',
      'train.learning_rate': '0.02',
      'train.optimizer': 'AdamW',
      'train.patience': '15',
      'train.min_batch_size': '8',
      'train.plots': 'false',
      'bench.batch_sizes': '1,8',
      'bench.warmup_runs': '3',
      'bench.benchmark_runs': '20',
      'bench.conf_threshold': '0.25',
      'bench.iou_threshold': '0.7',
      'bench.tracking.sequence': '/seq/frames',
      'bench.tracking.ground_truth': '/seq/gt.txt',
      'bench.tracking.tracker': 'bytetrack',
      'quant.variants': 'onnx_fp16,openvino_int8',
      'quant.calibration_size': '64',
    });
  });

  it('leaves out what the scenario does not fix: no weights, no optional dataset fields, no absent blocks', () => {
    const single = parseScenarioText(`
name: t
version: v1
type: infer
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64, weights: /w/best.pt }
dataset: { path: /d/data.yaml, version: v1 }
benchmark: {}
`);
    expect(Object.keys(scenarioTags(single)).filter((k) => k.startsWith('data.'))).toEqual(['data.path', 'data.version']);
    const withoutWeights = { ...single, model: { ...single.model, weights: null } };
    expect(scenarioParams(withoutWeights)).toEqual({
      'model.architecture': 'yolov8n.yaml',
      'model.input_size': '64',
      'env.device': 'auto',
      'env.precision': 'fp32',
      'env.seed': '42',
      'env.gpu_pool': 'default',
      'bench.batch_sizes': '1',
      'bench.warmup_runs': '10',
      'bench.benchmark_runs': '100',
      'bench.conf_threshold': '0.25',
      'bench.iou_threshold': '0.7',
    });
  });
});
