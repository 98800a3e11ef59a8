import { readFileSync } from 'node:fs';
import path from 'node:path';
import { defaultGoal, editDistance, isKnownMetric, MetricSource, resolveMetricAlias, unknownMetricMessage, type MetricContext } from '../../scenarios/metric-keys';

const scenario = { classes: ['helmet', 'vest'], batchSizes: [1, 8] };
const train: MetricContext = { ...scenario, source: MetricSource.train };
const benchmark: MetricContext = { ...scenario, source: MetricSource.benchmark };
const anyRun: MetricContext = { ...scenario, source: MetricSource.anyRun };

/** What executors/train.py and the train stage log for this scenario (final and per-epoch). */
const TRAIN_LOGS = [
  'det.precision',
  'det.recall',
  'det.mAP50',
  'det.mAP50_95',
  'det.f1',
  'det.box_loss',
  'det.cls_loss',
  'det.dfl_loss',
  'det.val_box_loss',
  'det.val_cls_loss',
  'det.val_dfl_loss',
  'det.ap50.helmet',
  'det.ap50.vest',
  'train.lr_pg0',
  'train.lr_pg2',
  'sys.epoch_time_s',
  'sys.model_size_mb',
  'sys.model_params_m',
  'sys.gpu_util_pct',
  'train.batch_size_effective',
  'train.epochs_completed',
  'oom.retries',
];

/** What executors/benchmark.py (and mot_metrics.py with tracking) log for this scenario. */
const BENCHMARK_LOGS = [
  'det.precision',
  'det.recall',
  'det.mAP50',
  'det.mAP50_95',
  'det.f1',
  'det.ap50.helmet',
  'sys.latency_ms',
  'sys.latency_ms_p50',
  'sys.latency_ms_p95',
  'sys.latency_ms_p99',
  'sys.fps',
  'sys.cpu_util_pct',
  'sys.bs1.latency_ms',
  'sys.bs1.fps',
  'sys.bs8.latency_ms_p99',
  'sys.bs8.fps',
  'sys.model_size_mb',
  'sys.model_params_m',
  'sys.model_gflops',
  'sys.gpu_memory_peak_mb',
  'sys.gpu_util_pct',
  'sys.gpu_power_w',
  'mot.hota',
  'mot.deta',
  'mot.assa',
  'mot.mota',
  'mot.motp',
  'mot.idf1',
  'mot.id_switches',
  'mot.frag',
  'mot.mt',
  'mot.ml',
];

describe('metric keys', () => {
  it('accepts every key a train run logs for a train metric', () => {
    expect(TRAIN_LOGS.filter((key) => !isKnownMetric(key, train))).toEqual([]);
  });

  it('accepts every key a benchmark logs for a benchmark metric', () => {
    expect(BENCHMARK_LOGS.filter((key) => !isKnownMetric(key, benchmark))).toEqual([]);
  });

  it('a comparison of run ids may read any run, quantized ones included', () => {
    const quant = ['orig.det.mAP50', 'quant.sys.latency_ms', 'quant.sys.bs32.fps', 'orig.det.ap50.vest', 'comparison.accuracy_drop_mAP50', 'comparison.accuracy_drop_mAP50_95', 'comparison.speedup_ratio', 'comparison.compression_ratio'];
    expect([...TRAIN_LOGS, ...BENCHMARK_LOGS, ...quant].filter((key) => !isKnownMetric(key, anyRun))).toEqual([]);
    expect(['orig.train.lr_pg0', 'quant.det.box_loss', 'orig.comparison.speedup_ratio', 'best.det.mAP50'].filter((key) => isKnownMetric(key, anyRun))).toEqual([]);
  });

  it('keeps in step with the keys the executors write (a key added there must be added here)', () => {
    const source = (file: string) => readFileSync(path.join(__dirname, '../../executors', file), 'utf8');
    // Whole keys in double quotes; a prefix a key is built from ("train.lr_" + group) ends in '_'.
    const literals = (text: string) => [...text.matchAll(/"((?:det|sys|mot|train)\.[A-Za-z0-9_]*[A-Za-z0-9])"/g)].map((m) => m[1]);
    const fromTrain = literals(source('train.py'));
    const fromBenchmark = [...literals(source('benchmark.py')), ...literals(source('mot_metrics.py'))];
    expect(fromTrain.length).toBeGreaterThan(10);
    expect(fromBenchmark.length).toBeGreaterThan(10);
    expect(fromTrain.filter((key) => !isKnownMetric(key, train))).toEqual([]);
    expect(fromBenchmark.filter((key) => !isKnownMetric(key, benchmark))).toEqual([]);
  });

  it('refuses what those runs never log, with the closest key they do (issue 16 #6)', () => {
    expect(unknownMetricMessage('metrics/mAP50(B)', train)).toMatch(/^"metrics\/mAP50\(B\)" is not a metric a train run logs; did you mean det\.mAP50\?/);
    expect(unknownMetricMessage('metrics/mAP50-95(B)', benchmark)).toMatch(/did you mean det\.mAP50_95\?/);
    expect(unknownMetricMessage('det.mAP5O', train)).toMatch(/^"det\.mAP5O" is not a metric a train run logs; did you mean det\.mAP50\?/);
    expect(unknownMetricMessage('det.map50_95', train)).toMatch(/did you mean det\.mAP50_95\?/);
    expect(unknownMetricMessage('sys.fps', train)).toMatch(/^"sys\.fps" is not a metric a train run logs \(other kinds of run log it\); did you mean /);
    expect(unknownMetricMessage('det.box_loss', benchmark)).toMatch(/^"det\.box_loss" is not a metric a benchmark run logs \(other kinds of run log it\)/);
    expect(unknownMetricMessage('det.ap50.helmets', train)).toMatch(/did you mean det\.ap50\.helmet\?/);
    expect(unknownMetricMessage('sys.bs16.fps', benchmark)).toMatch(/did you mean sys\.bs1\.fps\?/);
    expect(unknownMetricMessage('train.lr_pg0', benchmark)).toMatch(/^"train\.lr_pg0" is not a metric a benchmark run logs/);
    expect(unknownMetricMessage('det.mAP50', train)).toBeUndefined();
  });

  it('resolves the seeds\' short names, and nothing else', () => {
    expect(['mAP50', 'mAP50_95', 'mAP50-95', 'det.mAP50', 'constructor', 'toString'].map(resolveMetricAlias)).toEqual(['det.mAP50', 'det.mAP50_95', 'det.mAP50_95', 'det.mAP50', 'constructor', 'toString']);
  });

  it('minimises losses, latencies, sizes and tracking errors; maximises the rest', () => {
    expect(['det.cls_loss', 'quant.sys.latency_ms', 'sys.bs8.latency_ms', 'comparison.accuracy_drop_mAP50', 'oom.retries', 'sys.epoch_time_s'].map(defaultGoal)).toEqual(Array(6).fill('minimize'));
    expect(['det.f1', 'quant.det.mAP50', 'sys.bs8.fps', 'comparison.speedup_ratio', 'mot.idf1', 'sys.gpu_util_pct'].map(defaultGoal)).toEqual(Array(6).fill('maximize'));
  });

  it('edit distance', () => {
    expect([editDistance('', 'abc'), editDistance('kitten', 'sitting'), editDistance('det.mAP50', 'det.mAP50'), editDistance('flaw', 'lawn')]).toEqual([3, 3, 0, 2]);
  });
});

describe('metric key messages, in full', () => {
  const TAIL = '(keys: see docs/architecture.md §5; patterns det.ap50.<class>, sys.bs<N>.latency_ms, train.lr_pg<N>)';

  it('says which runs do not log it, whether others do, and the closest key', () => {
    expect(unknownMetricMessage('det.mAP5O', train)).toBe(`"det.mAP5O" is not a metric a train run logs; did you mean det.mAP50? ${TAIL}`);
    expect(unknownMetricMessage('det.box_loss', benchmark)).toBe(`"det.box_loss" is not a metric a benchmark run logs (other kinds of run log it); did you mean det.recall? ${TAIL}`);
    expect(unknownMetricMessage('nonsense', anyRun)).toBe(`"nonsense" is not a metric any run logs; did you mean mot.assa? ${TAIL}`);
    expect(unknownMetricMessage('DET.MAP50', train)).toBe(`"DET.MAP50" is not a metric a train run logs; did you mean det.mAP50? ${TAIL}`);
  });

  it('suggests the MLflow key for each of ultralytics\' own names, where those runs log it', () => {
    const hints = ['metrics/precision(B)', 'metrics/recall(B)', 'metrics/mAP50(B)', 'metrics/mAP50-95(B)', 'train/box_loss', 'train/cls_loss', 'train/dfl_loss', 'val/box_loss', 'val/cls_loss', 'val/dfl_loss'].map(
      (name) => unknownMetricMessage(name, train)!.match(/did you mean (\S+)\?/)![1],
    );
    expect(hints).toEqual(['det.precision', 'det.recall', 'det.mAP50', 'det.mAP50_95', 'det.box_loss', 'det.cls_loss', 'det.dfl_loss', 'det.val_box_loss', 'det.val_cls_loss', 'det.val_dfl_loss']);
    // a benchmark logs no losses: the suggestion is then the closest key it does log
    expect(unknownMetricMessage('train/box_loss', benchmark)).toMatch(/did you mean sys\.model_gflops\?/);
  });

  it('ties go to the earlier candidate; benchmarked batch sizes and classes are candidates', () => {
    expect(unknownMetricMessage('sys.bs4.fps', benchmark)).toMatch(/\(other kinds of run log it\); did you mean sys\.bs1\.fps\?/);
    expect(unknownMetricMessage('sys.bs4.fps', { ...benchmark, batchSizes: [8, 1] })).toMatch(/did you mean sys\.bs8\.fps\?/);
    expect(unknownMetricMessage('sys.bs8.latency_ms', train)).toMatch(/did you mean sys\.model_size_mb\?/);
    expect(unknownMetricMessage('det.ap50.vast', train)).toMatch(/did you mean det\.ap50\.vest\?/);
    expect(unknownMetricMessage('quant.det.ap50.cat', anyRun)).toMatch(/^"quant\.det\.ap50\.cat" is not a metric any run logs; did you mean quant\.det\.mAP50\?/);
  });
});

describe('metric key patterns', () => {
  it('det.ap50.<class> for the scenario\'s classes only, with orig./quant. copies from quantized runs', () => {
    expect(['det.ap50.helmet', 'det.ap50.vest'].map((k) => isKnownMetric(k, train))).toEqual([true, true]);
    expect(['det.ap50.cat', 'det.ap50.', 'xdet.ap50.helmet', 'det.ap50.helmet.x', 'det_ap50.helmet'].map((k) => isKnownMetric(k, anyRun))).toEqual([false, false, false, false, false]);
    expect(['orig.det.ap50.helmet', 'quant.det.ap50.vest'].map((k) => [isKnownMetric(k, anyRun), isKnownMetric(k, benchmark), isKnownMetric(k, train)])).toEqual([
      [true, false, false],
      [true, false, false],
    ]);
  });

  it('sys.bs<N>.<latency> for benchmarks at their batch sizes; any batch size for a comparison of runs; never for training', () => {
    expect(['sys.bs1.latency_ms', 'sys.bs8.latency_ms_p50', 'sys.bs8.latency_ms_p99', 'sys.bs1.fps'].map((k) => isKnownMetric(k, benchmark))).toEqual([true, true, true, true]);
    expect(['sys.bs16.fps', 'sys.bs.fps', 'sys.bs8.gpu_util_pct', 'sys.bs8.fpsx', 'xsys.bs8.fps', 'sys.bs8.latency_ms_p90'].map((k) => isKnownMetric(k, benchmark))).toEqual([false, false, false, false, false, false]);
    expect(['sys.bs16.fps', 'orig.sys.bs64.latency_ms', 'quant.sys.bs2.fps'].map((k) => isKnownMetric(k, anyRun))).toEqual([true, true, true]);
    expect(isKnownMetric('sys.bs1.fps', train)).toBe(false);
  });

  it('train.lr_pg<N> from training runs only', () => {
    expect(['train.lr_pg0', 'train.lr_pg12'].map((k) => [isKnownMetric(k, train), isKnownMetric(k, anyRun), isKnownMetric(k, benchmark)])).toEqual([
      [true, true, false],
      [true, true, false],
    ]);
    expect(['train.lr_pg', 'train.lr_pgx', 'train.lr_pg0x', 'xtrain.lr_pg0', 'quant.train.lr_pg0'].map((k) => isKnownMetric(k, anyRun))).toEqual([false, false, false, false, false]);
  });

  it('the orig./quant. prefix is read only at the start, and only from quantized runs', () => {
    expect(['orig.det.mAP50', 'quant.mot.hota'].map((k) => isKnownMetric(k, benchmark))).toEqual([false, false]);
    expect(['origdet.ap50.helmet', 'x.orig.det.ap50.helmet', 'quantdet.ap50.helmet', 'det.ap50.quant.vest', 'det.ap50.orig.helmet'].map((k) => isKnownMetric(k, anyRun))).toEqual([false, false, false, false, false]);
  });
});

describe('default goals and edit distance, edge cases', () => {
  it('reads the orig./quant. prefix only at the start', () => {
    expect(['orig.det.box_loss', 'orig.mot.frag', 'quant.sys.gpu_power_w', 'orig.sys.bs1.latency_ms_p95'].map(defaultGoal)).toEqual(['minimize', 'minimize', 'minimize', 'minimize']);
    expect(['det.box_loss_ratio', 'mot.mlx', 'mot.frags', 'xsys.latency_ms', 'sys.model_size_mbx', 'oom.retries_x', 'x.comparison.accuracy_drop_mAP50', 'mot.idf1_ml', 'sys.xlatency_ms', 'sys.quant.latency_ms'].map(defaultGoal)).toEqual(Array(10).fill('maximize'));
  });

  it('edit distance counts insertions, deletions and substitutions', () => {
    expect([editDistance('abc', ''), editDistance('', ''), editDistance('a', 'b'), editDistance('ab', 'ba'), editDistance('abc', 'abd'), editDistance('abcd', 'acd'), editDistance('det.mAP50', 'det.mAP50_95')]).toEqual([3, 0, 1, 2, 1, 1, 3]);
  });
});
