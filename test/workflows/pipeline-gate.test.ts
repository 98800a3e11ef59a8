import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { pipelineProgressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import type { Run } from '../../activities/tracking/mlflow-client';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';
import type { pipeline } from '../../workflows/pipeline';
import { artifactKeys, childRuns, connectStack, metricsOf, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { aliasesOf, artifactText, csvBool, parseCsv } from '../support/records';

jest.setTimeout(180_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/**
 * A pipeline on the stand-in executors. Its trained det.mAP50 is 0.8 at learning rate 0.01 and
 * 0.6 at 0.001 (test/fixtures/fake_executor.py); every benchmark of the trained weights reads
 * det.mAP50 0.7, the fp32 export 0.7 and the int8 export 0.67 (test/fixtures/fake_quant.py).
 */
function pipelineScenario(customer: string, version: string, learningRate: number, gateMetric = 'det.mAP50'): Scenario {
  return parseScenarioText(`
name: gate-${version}
version: ${version}
type: train
design: pipeline
site: { customer: ${customer}, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: ${learningRate} }
quantization: { variants: [ { backend: onnx, precision: fp32 }, { backend: openvino, precision: int8 } ], calibration_size: 8 }
promotion: { metric: ${gateMetric}, min_improvement: 0.05, max_accuracy_drop: 0.01 }
benchmark: { tracking: { sequence: /nonexistent/seq/img1, ground_truth: /nonexistent/seq/gt/gt.txt } }
`);
}

const run = async (scenario: Scenario) => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof pipeline>).result();

/** The pipeline's runs as MLflow has them: parent, train, quant and infer stages, variants by label. */
async function recorded(parentRunId: string) {
  const parent = await stack.mlflow.getRun(parentRunId);
  const stages = await childRuns(stack, parentRunId);
  const train = stages.find((r) => tagsOf(r)['exp.type'] === 'train')!;
  const quant = stages.find((r) => tagsOf(r)['exp.type'] === 'quant')!;
  const infer = stages.filter((r) => tagsOf(r)['exp.type'] === 'infer');
  const variants = await childRuns(stack, quant.info.run_id);
  const variant = (label: string) => variants.find((r) => `${tagsOf(r)['quant.backend']}_${tagsOf(r)['quant.precision']}` === label)!;
  /** The infer run that benchmarked a version of `model` (`model.source` = models:/<model>/<version>). */
  const inferOf = (model: string) => infer.find((r) => /^models:\/(.+)\/\d+$/.exec(tagsOf(r)['model.source'] ?? '')?.[1] === model);
  return { parent, stages, train, quant, infer, inferOf, variants, onnx: variant('onnx_fp32'), int8: variant('openvino_int8') };
}

/** The version registered from a run's artifacts under a model name. */
async function versionOf(model: string, r: Run): Promise<string> {
  const versions = await stack.mlflow.searchModelVersions(`name='${model}' and run_id='${r.info.run_id}'`);
  expect(versions).toHaveLength(1);
  return versions[0].version;
}

const MODEL = 'gate-co.ci-lab.bench.ppe';

describe('pipeline promotion gate (real Temporal, MLflow, S3; stand-in executors)', () => {
  it('promotes the trained version itself, then refuses a worse model: champion kept, reasons in summary.csv', async () => {
    const first = await withFakeGpu(stack, { bundle }, () => run(pipelineScenario('gate-co', 'good', 0.01)));
    const one = await recorded(first.runId);
    expect(one.parent.info.status).toBe('FINISHED');
    // train, quant, and one infer run per promoted champion (the trained model and its fp32 export)
    expect(one.stages.map((r) => r.info.status)).toEqual(['FINISHED', 'FINISHED', 'FINISHED', 'FINISHED']);
    expect(one.infer).toHaveLength(2);
    expect(metricsOf(one.train)['det.mAP50']).toBe(0.8);

    // the champion is exactly the version registered from this pipeline's train run
    const champion = (await stack.mlflow.getModelVersionByAlias(MODEL, 'champion'))!;
    expect(champion.run_id).toBe(one.train.info.run_id);
    expect(champion.source).toBe(`${one.train.info.artifact_uri}/weights/best.pt`);
    expect(champion.version).toBe(await versionOf(MODEL, one.train));
    // fp32 loses nothing (0.7 → 0.7) and is promoted; int8 loses 0.03 > max_accuracy_drop 0.01 and stays candidate
    const onnxChampion = (await stack.mlflow.getModelVersionByAlias(`${MODEL}__onnx_fp32`, 'champion'))!;
    expect(onnxChampion.run_id).toBe(one.onnx.info.run_id);
    expect(tagsOf(one.onnx)['source.run_id']).toBe(one.train.info.run_id);
    expect(await aliasesOf(stack, `${MODEL}__openvino_int8`)).toEqual({ candidate: await versionOf(`${MODEL}__openvino_int8`, one.int8) });
    expect(metricsOf(one.parent)['pipeline.promoted']).toBe(2);

    // the infer stage: each champion benchmarked as the registered version the alias points at
    const inferTrained = one.inferOf(MODEL)!;
    const inferOnnx = one.inferOf(`${MODEL}__onnx_fp32`)!;
    expect(one.inferOf(`${MODEL}__openvino_int8`)).toBeUndefined();
    for (const [r, name, version] of [[inferTrained, MODEL, champion.version], [inferOnnx, `${MODEL}__onnx_fp32`, onnxChampion.version]] as const) {
      expect(r.info.status).toBe('FINISHED');
      expect(tagsOf(r)).toEqual(expect.objectContaining({ 'exp.type': 'infer', 'exp.design': 'pipeline', 'model.source': `models:/${name}/${version}`, 'mlflow.parentRunId': one.parent.info.run_id }));
      expect(paramsOf(r)['model.weights']).toBe(`models:/${name}/${version}`);
      // the scenario's tracking sequence goes with it (the stand-in does not track; the e2e infer test reads mot.*)
      expect(paramsOf(r)).toEqual(expect.objectContaining({ 'bench.tracking.sequence': '/nonexistent/seq/img1', 'bench.tracking.ground_truth': '/nonexistent/seq/gt/gt.txt' }));
      expect(Object.keys(paramsOf(r)).filter((k) => k.startsWith('train.') || k.startsWith('quant.'))).toEqual([]);
      expect(await artifactKeys(stack.settings, r.info.artifact_uri)).toEqual(expect.arrayContaining(['benchmark.json', 'config/scenario.yaml']));
    }
    expect(tagsOf(inferOnnx)).toEqual(expect.objectContaining({ 'quant.backend': 'onnx', 'quant.precision': 'fp32' }));
    expect([inferTrained, inferOnnx].map((r) => r.info.run_name)).toEqual(['ppe-yolov8n-infer-good', 'ppe-yolov8n-infer-good-onnx-fp32']);
    // the stand-in reads the trained weights as 0.7 / 10 ms; its fp32 export keeps 0.7 at 0.8 × the latency
    expect(metricsOf(inferTrained)).toEqual(expect.objectContaining({ 'det.mAP50': 0.7, 'det.mAP50_95': 0.35, 'sys.latency_ms': 10, 'sys.bs1.latency_ms': 10, 'sys.fps': 100 }));
    expect(metricsOf(inferOnnx)).toEqual(expect.objectContaining({ 'det.mAP50': 0.7, 'sys.latency_ms': 8, 'sys.bs1.latency_ms': 8 }));
    expect(first.infer.map((b) => [b.modelSource, b.runId, b.error])).toEqual([
      [`models:/${MODEL}/${champion.version}`, inferTrained.info.run_id, undefined],
      [`models:/${MODEL}__onnx_fp32/${onnxChampion.version}`, inferOnnx.info.run_id, undefined],
    ]);
    expect(tagsOf(one.parent)).toEqual(expect.objectContaining({ 'pipeline.infer': 'finished', 'pipeline.infer_run_ids': `${inferTrained.info.run_id},${inferOnnx.info.run_id}` }));
    expect(metricsOf(one.parent)['pipeline.infer_failed']).toBe(0);

    const summary = parseCsv(await artifactText(stack.settings, one.parent.info.artifact_uri, 'summary.csv'));
    expect(summary.header).toEqual(expect.arrayContaining(['stage', 'run_id', 'model', 'det.mAP50', 'sys.latency_ms', 'comparison.accuracy_drop_mAP50', 'promoted', 'reason']));
    expect(summary.rows.map((r) => [r.stage, r.run_id, r.model, csvBool(r.promoted)])).toEqual([
      ['train', one.train.info.run_id, `${MODEL}@v${champion.version}`, true],
      ['onnx_fp32', one.onnx.info.run_id, `${MODEL}__onnx_fp32@v${onnxChampion.version}`, true],
      ['openvino_int8', one.int8.info.run_id, `${MODEL}__openvino_int8@v${await versionOf(`${MODEL}__openvino_int8`, one.int8)}`, false],
      ['infer', inferTrained.info.run_id, `${MODEL}@v${champion.version}`, true],
      ['infer_onnx_fp32', inferOnnx.info.run_id, `${MODEL}__onnx_fp32@v${onnxChampion.version}`, true],
    ]);
    const [trainRow, onnxRow, int8Row, inferRow, inferOnnxRow] = summary.rows;
    expect([inferRow, inferOnnxRow].map((r) => Number(r['sys.latency_ms']))).toEqual([10, 8]);
    expect(Number(trainRow['det.mAP50'])).toBe(metricsOf(one.quant)['orig.det.mAP50']);
    expect(Number(onnxRow['det.mAP50'])).toBe(metricsOf(one.onnx)['quant.det.mAP50']);
    expect(Number(int8Row['det.mAP50'])).toBe(metricsOf(one.int8)['quant.det.mAP50']);
    expect([trainRow, onnxRow, int8Row].map((r) => Number(r['det.mAP50']))).toEqual([0.7, 0.7, 0.67]);
    expect(Number(int8Row['comparison.accuracy_drop_mAP50'])).toBe(metricsOf(one.int8)['comparison.accuracy_drop_mAP50']);
    expect(Number(onnxRow['sys.latency_ms'])).toBe(metricsOf(one.onnx)['quant.sys.latency_ms']);
    expect(int8Row.reason).toMatch(/drop 0\.03/);

    // a second, worse model: det.mAP50 0.6 against the champion's 0.8, min_improvement 0.05
    const worse = pipelineScenario('gate-co', 'worse', 0.001);
    const second = await withFakeGpu(stack, { bundle }, () => run(worse));
    const two = await recorded(second.runId);
    expect(two.parent.info.status).toBe('FINISHED');
    expect(metricsOf(two.train)['det.mAP50']).toBe(0.6);
    expect(second.promoted).toEqual([]);
    expect(await aliasesOf(stack, MODEL)).toEqual({ champion: champion.version, candidate: await versionOf(MODEL, two.train) });
    expect((await stack.mlflow.getModelVersionByAlias(MODEL, 'champion'))!.run_id).toBe(one.train.info.run_id);
    expect((await stack.mlflow.getModelVersionByAlias(`${MODEL}__onnx_fp32`, 'champion'))!.run_id).toBe(one.onnx.info.run_id);
    expect(metricsOf(two.parent)['pipeline.promoted']).toBe(0);
    // nothing promoted: no infer stage, and the parent says why
    expect(two.stages).toHaveLength(2);
    expect(two.infer).toEqual([]);
    expect(second.infer).toEqual([]);
    expect(tagsOf(two.parent)['pipeline.infer']).toBe('skipped: nothing promoted');

    const refused = parseCsv(await artifactText(stack.settings, two.parent.info.artifact_uri, 'summary.csv'));
    expect(refused.rows.map((r) => [r.stage, r.run_id, csvBool(r.promoted)])).toEqual([
      ['train', two.train.info.run_id, false],
      ['onnx_fp32', two.onnx.info.run_id, false],
      ['openvino_int8', two.int8.info.run_id, false],
    ]);
    expect(refused.rows[0].reason).toMatch(/det\.mAP50.*0\.6.*champion.*0\.8/);
    expect(refused.rows[1].reason).toBe('its source model was not promoted');
    expect(second.decisions[0]).toEqual(expect.objectContaining({ model: MODEL, promote: false, reason: refused.rows[0].reason }));
  });

  it('a champion without the gate\'s metric is not "no champion": nothing promoted, the reason names what it has (issue 16 #1)', async () => {
    // champion v1 registered by hand from a run that logged det.mAP50 0.91 and no det.mAP50_95
    const model = 'gate-lack-co.ci-lab.bench.ppe';
    const experimentId = await stack.mlflow.ensureExperiment('gate-tests-hand-registered');
    const hand = await stack.mlflow.createRun({ experimentId, runName: 'champion-without-map50-95', tags: [] });
    await stack.mlflow.logBatch(hand.run_id, { metrics: [{ key: 'det.mAP50', value: 0.91, timestamp: Date.now(), step: 0 }] });
    await stack.mlflow.ensureRegisteredModel(model);
    const v1 = await stack.mlflow.createModelVersion({ name: model, source: `${hand.artifact_uri}/weights/best.pt`, runId: hand.run_id });
    await stack.mlflow.setAlias(model, 'champion', v1.version);

    const result = await withFakeGpu(stack, { bundle }, () => run(pipelineScenario('gate-lack-co', 'lacking', 0.01, 'det.mAP50_95')));
    const runs = await recorded(result.runId);
    expect(runs.parent.info.status).toBe('FINISHED');
    expect(metricsOf(runs.train)['det.mAP50_95']).toBe(0.5);
    expect(result.promoted).toEqual([]);
    expect(result.decisions[0]).toEqual(
      expect.objectContaining({ model, promote: false, reason: expect.stringMatching(/^champion v1 has no det\.mAP50_95 \(it has det\.mAP50\), so det\.mAP50_95=0\.5000 cannot be compared/) }),
    );
    expect((await aliasesOf(stack, model)).champion).toBe(v1.version);
  });

  it('a failed variant: its run FAILED, its sibling FINISHED, the quant stage and the pipeline FAILED, nothing promoted', async () => {
    const scenario = pipelineScenario('gate-fail-co', 'failvar', 0.01);
    const [err, progress] = await withFakeGpu(stack, { bundle, env: { GF_FAKE_FAIL_VARIANT: 'openvino_int8' } }, async () => {
      const handle = (await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof pipeline>;
      return [await handle.result().catch((e: unknown) => e), await handle.query(pipelineProgressQuery)] as const;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    let cause: unknown = err;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    expect((cause as ApplicationFailure).type).toBe('UnsupportedBackend');
    expect((cause as ApplicationFailure).message).toContain('openvino_int8');

    const experiment = (await stack.mlflow.getExperimentByName('gate-fail-co/ci-lab/bench'))!;
    const [parent] = await stack.mlflow.searchRuns({ experimentIds: [experiment.experiment_id], filter: "attributes.run_name = 'ppe-yolov8n-pipeline-failvar'" });
    const runs = await recorded(parent.info.run_id);
    expect(runs.parent.info.status).toBe('FAILED');
    expect(runs.train.info.status).toBe('FINISHED');
    expect(runs.quant.info.status).toBe('FAILED');
    expect(runs.onnx.info.status).toBe('FINISHED');
    expect(runs.int8.info.status).toBe('FAILED');
    expect(runs.infer).toEqual([]);
    expect(metricsOf(runs.onnx)['quant.det.mAP50']).toBe(0.7);
    expect((await aliasesOf(stack, 'gate-fail-co.ci-lab.bench.ppe')).champion).toBeUndefined();
    expect((await aliasesOf(stack, 'gate-fail-co.ci-lab.bench.ppe__onnx_fp32')).champion).toBeUndefined();
    expect(progress).toEqual(expect.objectContaining({ phase: 'failed', runId: runs.parent.info.run_id, trainRunId: runs.train.info.run_id }));
  });
});
