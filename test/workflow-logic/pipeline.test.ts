import { Context } from '@temporalio/activity';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { BenchmarkInput, BenchmarkResult, createGpuActivities, ExportInput, ExportResult } from '../../activities/gpu/activities';
import type { createRegistryActivities } from '../../activities/registry/activities';
import { CONTROL_QUEUE, pipelineProgressQuery } from '../../common/contract';
import type { AliasMove } from '../../common/registry';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import type { pipeline } from '../../workflows/pipeline';
import { eventually } from '../support/harness';
import { useLocalTemporal } from './local-temporal';
import { FakeMlflow, fakeTrain, logicScenario, withMockedWorkers } from './mocks';

/**
 * The pipeline's infer stage with mocked activities: a champion's benchmark that fails leaves
 * its run FAILED and the promotion in place (the pipeline finishes and says which benchmark
 * failed); a cancel during the stage ends every run KILLED.
 */

jest.setTimeout(60_000);

const temporal = useLocalTemporal();

function pipelineScenario(version: string): Scenario {
  return logicScenario(
    version,
    `design: pipeline
training: { epochs: 1, batch_size: 16, learning_rate: 0.01 }
quantization: { variants: [ { backend: onnx, precision: fp32 } ] }`,
  );
}

const MODEL = 'logic-co.ci-lab.bench.ppe';
const VARIANT_MODEL = `${MODEL}__onnx_fp32`;

type Registry = ReturnType<typeof createRegistryActivities>;
type Gpu = ReturnType<typeof createGpuActivities>;

/** A registry with no champion yet and version 1 of each model as candidate; records the moves applied. */
function fakeRegistry(moves: { model: string; move: AliasMove }[]): Registry {
  return {
    championMetric: () => Promise.resolve({ kind: 'none' }),
    tagVersion: () => Promise.resolve(),
    readAliases: () => Promise.resolve({ aliases: { candidate: '1' }, versions: ['1'] }),
    applyAliases: (input) => {
      moves.push(input);
      return Promise.resolve();
    },
  };
}

/** Export and benchmark stand-ins; `onChampion` runs for a benchmark of a registered version (the infer stage). */
function fakeQuant(onChampion: (input: BenchmarkInput) => Promise<void>): Pick<Gpu, 'exportModel' | 'benchmark'> {
  return {
    exportModel: (input: ExportInput): Promise<ExportResult> =>
      Promise.resolve({ hostQueue: CONTROL_QUEUE, files: [], exports: input.variants.map((variant) => ({ variant, localPath: '/host/model.onnx', sizeMb: 1, files: [] })) }),
    benchmark: async (input: BenchmarkInput): Promise<BenchmarkResult> => {
      if (input.model.startsWith('models:/')) await onChampion(input);
      return { hostQueue: CONTROL_QUEUE, files: [], metrics: { 'det.mAP50': 0.7, 'det.mAP50_95': 0.5, 'sys.latency_ms': 10 } };
    },
  };
}

describe('pipeline infer stage (mocked activities)', () => {
  it("a champion's failed benchmark: its run FAILED, the other FINISHED, both promotions kept, the pipeline finished and reporting it", async () => {
    const scenario = pipelineScenario('inferfail');
    const mlflow = new FakeMlflow();
    const moves: { model: string; move: AliasMove }[] = [];
    const summaries: Record<string, unknown>[][] = [];
    const failVariant = (input: BenchmarkInput) =>
      input.model === `models:/${VARIANT_MODEL}/1` ? Promise.reject(ApplicationFailure.create({ message: 'injected: no such model on this host', type: 'InvalidScenario' })) : Promise.resolve();
    const control = {
      ...mlflow.activities({
        uploadCsv: ({ artifactUri, artifactPath, rows }) => {
          summaries.push(rows);
          return Promise.resolve(`${artifactUri}/${artifactPath}`);
        },
      }),
      ...fakeRegistry(moves),
    };
    const result = await withMockedWorkers(temporal.env, { control, gpu: { ...fakeTrain(temporal.env.client), ...fakeQuant(failVariant) } }, async () => {
      const handle = await temporal.env.client.workflow.start<typeof pipeline>('pipeline', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] });
      return handle.result();
    });

    expect(moves).toEqual([
      { model: MODEL, move: { set: { champion: '1' }, remove: ['candidate'] } },
      { model: VARIANT_MODEL, move: { set: { champion: '1' }, remove: ['candidate'] } },
    ]);
    expect(result.promoted.map((m) => `${m.name}@${m.alias}=${m.version}`)).toEqual([`${MODEL}@champion=1`, `${VARIANT_MODEL}@champion=1`]);
    expect(mlflow.statuses()).toEqual({
      'ppe-yolov8n-pipeline-inferfail': 'FINISHED',
      'ppe-yolov8n-train-inferfail': 'FINISHED',
      'ppe-yolov8n-quant-inferfail': 'FINISHED',
      'ppe-yolov8n-quant-inferfail-onnx-fp32': 'FINISHED',
      'ppe-yolov8n-infer-inferfail': 'FINISHED',
      'ppe-yolov8n-infer-inferfail-onnx-fp32': 'FAILED',
      // each promotion is also a run of the registry-history experiment, ended once its aliases moved
      [`promote ${MODEL}`]: 'FINISHED',
      [`promote ${VARIANT_MODEL}`]: 'FINISHED',
    });

    const runs = [...mlflow.runs.values()];
    const byName = (name: string) => runs.find((r) => r.name === name)!;
    const parent = byName('ppe-yolov8n-pipeline-inferfail');
    const inferRun = byName('ppe-yolov8n-infer-inferfail');
    const failedRun = byName('ppe-yolov8n-infer-inferfail-onnx-fp32');
    expect(inferRun.tags).toEqual(expect.objectContaining({ 'exp.type': 'infer', 'exp.design': 'pipeline', 'model.source': `models:/${MODEL}/1`, 'mlflow.parentRunId': parent.runId }));
    expect(failedRun.tags).toEqual(expect.objectContaining({ 'exp.type': 'infer', 'model.source': `models:/${VARIANT_MODEL}/1`, 'quant.backend': 'onnx', 'quant.precision': 'fp32' }));
    expect(inferRun.metrics).toEqual({ 'det.mAP50': 0.7, 'det.mAP50_95': 0.5, 'sys.latency_ms': 10 });

    expect(result.infer).toEqual([
      expect.objectContaining({ modelSource: `models:/${MODEL}/1`, runId: inferRun.runId, metrics: { 'det.mAP50': 0.7, 'det.mAP50_95': 0.5, 'sys.latency_ms': 10 } }),
      expect.objectContaining({ modelSource: `models:/${VARIANT_MODEL}/1`, error: 'InvalidScenario: injected: no such model on this host', variant: { backend: 'onnx', precision: 'fp32' } }),
    ]);
    expect(result.infer[1].runId).toBeUndefined();
    expect(parent.tags['pipeline.infer']).toBe(`failed: models:/${VARIANT_MODEL}/1 (causes in summary.csv)`);
    expect(parent.tags['pipeline.infer_run_ids']).toBe(inferRun.runId);
    expect(parent.metrics).toEqual(expect.objectContaining({ 'pipeline.promoted': 2, 'pipeline.infer_failed': 1 }));

    const [rows] = summaries;
    expect(rows.map((r) => [r.stage, r.run_id, r.model, r.promoted])).toEqual([
      ['train', byName('ppe-yolov8n-train-inferfail').runId, `${MODEL}@v1`, true],
      ['onnx_fp32', byName('ppe-yolov8n-quant-inferfail-onnx-fp32').runId, `${VARIANT_MODEL}@v1`, true],
      ['infer', inferRun.runId, `${MODEL}@v1`, true],
      ['infer_onnx_fp32', '', `${VARIANT_MODEL}@v1`, true],
    ]);
    expect(rows[2]['sys.latency_ms']).toBe(10);
    expect(rows[3].reason).toBe('infer failed: InvalidScenario: injected: no such model on this host');
  });

  it('cancelling the pipeline during its infer stage ends the benchmark runs and the parent KILLED', async () => {
    const scenario = pipelineScenario('infercancel');
    const mlflow = new FakeMlflow();
    const benchmarking = new Set<string>();
    const hang = async (input: BenchmarkInput) => {
      benchmarking.add(input.model);
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat();
        await ctx.sleep(100);
      }
    };
    const gpu = { ...fakeTrain(temporal.env.client), ...fakeQuant(hang) };
    const { err, progress } = await withMockedWorkers(temporal.env, { control: { ...mlflow.activities(), ...fakeRegistry([]) }, gpu }, async () => {
      const handle = await temporal.env.client.workflow.start<typeof pipeline>('pipeline', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] });
      await eventually(() => Promise.resolve(benchmarking.size === 2 ? true : undefined), 30_000, 'both champion benchmarks running');
      expect((await handle.query(pipelineProgressQuery)).phase).toBe('benchmarking');
      await handle.cancel();
      return { err: await handle.result().catch((e: unknown) => e), progress: await handle.query(pipelineProgressQuery) };
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(progress.phase).toBe('cancelled');
    expect(mlflow.statuses()).toEqual(
      expect.objectContaining({ 'ppe-yolov8n-pipeline-infercancel': 'KILLED', 'ppe-yolov8n-infer-infercancel': 'KILLED', 'ppe-yolov8n-infer-infercancel-onnx-fp32': 'KILLED' }),
    );
  });
});
