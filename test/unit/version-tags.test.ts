import { benchmarkTags, missingTags, versionTags } from '../../activities/tracking/version-tags';
import type { Run } from '../../activities/tracking/mlflow-responses';

const kv = (record: Record<string, string>) => Object.entries(record).map(([key, value]) => ({ key, value }));
const run = (params: Record<string, string>, tags: Record<string, string>, metrics: Record<string, number>): Run => ({
  info: { run_id: 'r'.repeat(32), experiment_id: '1', status: 'FINISHED', artifact_uri: 'mlflow-artifacts:/1/r', lifecycle_stage: 'active' },
  data: { params: kv(params), tags: kv(tags), metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: 0, step: 0 })) },
});

const SITE = { 'site.customer': 'acme', 'site.region': 'busan', 'site.plant': 'p1', 'site.zone': 'weld', 'site.experiment': 'acme/busan-p1/weld' };

describe('version tags', () => {
  it('a trained version: architecture, input size, task, site, dataset, epochs and accuracy from its run', () => {
    const trained = run(
      { 'model.architecture': 'yolov8n.yaml', 'model.input_size': '640', 'train.epochs': '100', 'train.learning_rate': '0.01' },
      { ...SITE, 'task.type': 'ppe', 'task.classes': 'helmet', 'data.path': '/data/weld.yaml', 'data.version': 'v3', 'exp.name': 'x' },
      { 'det.mAP50': 0.81, 'det.mAP50_95': 0.52, 'train.epochs_completed': 87, 'det.box_loss': 1.2 },
    );
    expect(versionTags(trained)).toEqual({
      'model.architecture': 'yolov8n.yaml',
      'model.input_size': '640',
      'train.epochs': '100',
      ...SITE,
      'task.type': 'ppe',
      'data.path': '/data/weld.yaml',
      'data.version': 'v3',
      'train.epochs_completed': '87',
      'det.mAP50': '0.81',
      'det.mAP50_95': '0.52',
    });
  });

  it('a quantized variant: its own (quant.*) figures, backend, precision, accuracy drop and speedup', () => {
    const variant = run(
      { 'model.architecture': 'yolov8n.yaml', 'model.input_size': '640', 'quant.backend': 'openvino' },
      { ...SITE, 'task.type': 'ppe', 'data.version': 'v3', 'quant.backend': 'openvino', 'quant.precision': 'int8' },
      {
        'quant.det.mAP50': 0.79,
        'orig.det.mAP50': 0.81,
        'quant.sys.latency_ms_p95': 12.5,
        'orig.sys.latency_ms_p95': 30,
        'comparison.accuracy_drop_mAP50': 0.02,
        'comparison.accuracy_drop_mAP50_95': 0.01,
        'comparison.speedup_ratio': 2.4,
      },
    );
    expect(versionTags(variant)).toEqual({
      'model.architecture': 'yolov8n.yaml',
      'model.input_size': '640',
      ...SITE,
      'task.type': 'ppe',
      'data.version': 'v3',
      'quant.backend': 'openvino',
      'quant.precision': 'int8',
      'det.mAP50': '0.79',
      'sys.latency_ms_p95': '12.5',
      'comparison.accuracy_drop_mAP50': '0.02',
      'comparison.accuracy_drop_mAP50_95': '0.01',
      'comparison.speedup_ratio': '2.4',
    });
  });

  it('leaves out what the run never recorded and values that are not finite', () => {
    const wrapped = run({ 'wrap.epochs': '3' }, { 'task.type': 'fall' }, { 'det.mAP50': Number.NaN, 'det.mAP50_95': 0.3 });
    expect(versionTags(wrapped)).toEqual({ 'task.type': 'fall', 'det.mAP50_95': '0.3' });
  });

  it('a benchmark of a version adds its latency p95 and the run that measured it; nothing without a p95', () => {
    expect(benchmarkTags(run({}, {}, { 'sys.latency_ms_p95': 21.5, 'sys.fps': 60 }))).toEqual({ 'sys.latency_ms_p95': '21.5', 'benchmark.run_id': 'r'.repeat(32) });
    expect(benchmarkTags(run({}, {}, { 'sys.fps': 60, 'sys.latency_ms_p95': Number.POSITIVE_INFINITY }))).toEqual({});
  });

  it('a retry sets only the tags the version lacks or holds with another value', () => {
    expect(missingTags({ a: '1', b: '2', c: '3' }, kv({ a: '1', b: '9' }))).toEqual({ b: '2', c: '3' });
    expect(missingTags({ a: '1' }, kv({ a: '1', other: 'x' }))).toEqual({});
    expect(missingTags({ a: '1' }, undefined)).toEqual({ a: '1' });
  });
});
