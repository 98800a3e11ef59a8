import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { checkFlagScenario, scenarioInputFromFlags, type AllFlags } from '../../cli/flag-scenario';
import { siteCatalogue } from '../../scenarios/site-catalogue-loader';
import { BATCH_SIZE_ANSWER_TAG, bestBatchSize } from '../../workflows/best-batch-size';
import { defaultGoal, isKnownMetric, MetricSource } from '../../scenarios/metric-keys';
import { ScenarioSchema } from '../../scenarios/schema';

/** A benchmark's per-batch figures: fps and p95 latency of one batch call. */
const measured = (rows: [batch: number, fps: number, p95: number][]) =>
  Object.fromEntries(rows.flatMap(([n, fps, p95]) => [[`sys.bs${n}.fps`, fps], [`sys.bs${n}.latency_ms_p95`, p95]]));

const BENCH = measured([
  [1, 40, 26],
  [4, 110, 37],
  [8, 150, 54],
  [16, 145, 110],
]);

describe('best batch size', () => {
  it('without a budget: the highest throughput', () => {
    const answer = bestBatchSize(BENCH, [1, 4, 8, 16]);
    expect(answer).toEqual({
      metrics: { 'sys.best_batch_size': 8, 'sys.best_fps': 150 },
      tags: { [BATCH_SIZE_ANSWER_TAG]: '8: 150.0 images/s, p95 54 ms (no latency budget)' },
      summary: '8: 150.0 images/s, p95 54 ms (no latency budget)',
    });
  });

  it('within a budget: the highest throughput among batch sizes whose p95 fits (the limit itself fits)', () => {
    expect(bestBatchSize(BENCH, [1, 4, 8, 16], 40)?.metrics).toEqual({ 'sys.best_batch_size': 4, 'sys.best_fps': 110 });
    expect(bestBatchSize(BENCH, [1, 4, 8, 16], 37)?.summary).toBe('4: 110.0 images/s, p95 37 ms (within the 37 ms budget)');
    expect(bestBatchSize(BENCH, [1, 4, 8, 16], 36.99)?.metrics).toEqual({ 'sys.best_batch_size': 1, 'sys.best_fps': 40 });
    expect(bestBatchSize(BENCH, [1, 4, 8, 16], 36.99)?.summary).toBe('1: 40.0 images/s, p95 26 ms (within the 36.99 ms budget)');
    expect(bestBatchSize(BENCH, [1], 0.0012)?.summary).toBe('none: no batch size within the 0.0012 ms latency budget (smallest p95: 26 ms at batch 1)');
  });

  it('no batch size within the budget: nothing picked, the tag says so with the smallest p95', () => {
    const answer = bestBatchSize(BENCH, [1, 4, 8, 16], 20);
    expect(answer?.metrics).toEqual({});
    expect(answer?.tags).toEqual({ [BATCH_SIZE_ANSWER_TAG]: 'none: no batch size within the 20 ms latency budget (smallest p95: 26 ms at batch 1)' });
  });

  it('a batch size without a p95 never counts as within a budget', () => {
    const answer = bestBatchSize({ 'sys.bs1.fps': 90 }, [1], 1000);
    expect(answer?.metrics).toEqual({});
    expect(answer?.summary).toBe('none: no batch size within the 1000 ms latency budget (no p95 latency measured)');
    expect(bestBatchSize({ 'sys.bs1.fps': 90 }, [1])?.summary).toBe('1: 90.0 images/s (no latency budget)');
  });

  it('ties go to the smaller batch (less memory, less latency); batch sizes not measured are skipped', () => {
    expect(bestBatchSize(measured([[2, 100, 10], [4, 100, 12]]), [4, 2, 32])?.metrics).toEqual({ 'sys.best_batch_size': 2, 'sys.best_fps': 100 });
    expect(bestBatchSize({}, [1, 8])).toBeUndefined();
    expect(bestBatchSize({ 'sys.fps': 10 }, [1])).toBeUndefined();
  });
});

describe('the keys it and the split latencies add', () => {
  const benchmark = { source: MetricSource.benchmark, classes: ['helmet'], batchSizes: [1, 8] };

  it('are known to benchmark runs, and per-batch keys only at the scenario\'s batch sizes', () => {
    const keys = ['sys.best_batch_size', 'sys.best_fps', 'sys.preprocess_ms', 'sys.inference_ms', 'sys.postprocess_ms', 'sys.bs8.preprocess_ms', 'sys.bs1.inference_ms', 'sys.bs8.postprocess_ms', 'sys.bs8.gpu_memory_mb'];
    expect(keys.filter((key) => !isKnownMetric(key, benchmark))).toEqual([]);
    expect(['sys.bs16.inference_ms', 'sys.gpu_memory_mb', 'sys.bs8.preprocess'].filter((key) => isKnownMetric(key, benchmark))).toEqual([]);
    expect(isKnownMetric('sys.best_fps', { ...benchmark, source: MetricSource.train })).toBe(false);
  });

  it('stage times and memory go down, the best throughput up', () => {
    expect(['sys.bs8.postprocess_ms', 'sys.inference_ms', 'quant.sys.preprocess_ms', 'sys.bs1.gpu_memory_mb'].map(defaultGoal)).toEqual(Array(4).fill('minimize'));
    expect(['sys.best_fps', 'sys.bs8.fps'].map(defaultGoal)).toEqual(Array(2).fill('maximize'));
  });
});

describe('benchmark.latency_budget_ms', () => {
  const scenario = (budget: unknown) => ({
    name: 'b',
    version: 'v1',
    type: 'infer',
    site: { customer: 'c', region: 'r', plant: 'p', zone: 'z' },
    task: { type: 'ppe', classes: ['helmet'] },
    model: { architecture: 'yolov8n.yaml', input_size: 64, weights: 'best.pt' },
    dataset: { path: 'data.yaml', version: 'd1' },
    benchmark: { batch_sizes: [1, 8], latency_budget_ms: budget },
  });

  it('is optional and positive, named in the error', () => {
    expect(ScenarioSchema.parse(scenario(undefined)).benchmark?.latency_budget_ms).toBeUndefined();
    expect(ScenarioSchema.parse(scenario(25.5)).benchmark?.latency_budget_ms).toBe(25.5);
    const refused = ScenarioSchema.safeParse(scenario(0));
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0].path).toEqual(['benchmark', 'latency_budget_ms']);
  });
});

describe('gflow infer --latency-budget', () => {
  const sites = siteCatalogue(path.join(__dirname, '../../sites.yaml'));
  let data: string;
  beforeAll(async () => {
    data = path.join(await mkdtemp(path.join(os.tmpdir(), 'gflow-budget-')), 'data.yaml');
    await writeFile(data, 'path: .\ntrain: images/train\nval: images/val\nnames: { 0: helmet }\n');
  });
  const infer = (flags: Partial<AllFlags>) => checkFlagScenario(scenarioInputFromFlags('infer', { model: 'w/best.pt', data, customer: 'a', region: 'r', task: 'ppe', ...flags }, sites), sites);
  const refusal = (flags: Partial<AllFlags>) => {
    try {
      infer(flags);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('not refused');
  };

  it('sets benchmark.latency_budget_ms; a bad value is refused naming the flag', () => {
    expect(infer({ latencyBudget: '25.5', batchSizes: '1,8' }).benchmark).toEqual(expect.objectContaining({ batch_sizes: [1, 8], latency_budget_ms: 25.5 }));
    expect(infer({}).benchmark?.latency_budget_ms).toBeUndefined();
    expect(refusal({ latencyBudget: 'fast' })).toContain('--latency-budget: expected a number, got "fast"');
    expect(refusal({ latencyBudget: '0' })).toContain('--latency-budget (benchmark.latency_budget_ms)');
  });
});
