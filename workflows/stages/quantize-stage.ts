import { RunPhase, type RegisteredModelRef } from '../../common/contract';
import { Alias } from '../../common/registry';
import { registeredModelName, runName } from '../../scenarios/naming';
import type { QuantVariant } from '../../scenarios/schema';
import { comparisonMetrics, prefixMetrics } from '../comparison-metrics';
import { gpuJobs, tracking } from '../proxies';
import { benchmarkSummary } from './benchmark-stage';
import { uploadFromHost } from './host-upload';
import { endingRun, openRun } from '../recorded-run';
import { uploadScenario, type StageContext } from './train-stage';

export interface VariantResult {
  variant: QuantVariant;
  runId: string;
  metrics: Record<string, number>;
  model: RegisteredModelRef;
}

export interface QuantizeStageResult {
  /** The original model's benchmark, against which every variant is compared. */
  orig: Record<string, number>;
  variants: VariantResult[];
}

/** The model a quant scenario starts from: a source run's best weights, or `model.weights`. */
export function quantSource(ctx: StageContext): string {
  const sourceRunId = ctx.scenario.quantization?.source_run_id;
  return sourceRunId ? `runs:/${sourceRunId}/weights/best.pt` : ctx.scenario.model.weights!;
}

/**
 * Exports each variant in its own nested run (variants side by side, one GPU slot each; an
 * unsupported backend fails before any other work), benchmarks the original once, then each
 * export on the same data, and registers it as `…__{backend}_{precision}@candidate`. Every
 * variant run ends before the stage does, even when a sibling fails.
 */
export async function quantizeStage(ctx: StageContext & { experimentId: string }): Promise<QuantizeStageResult> {
  const { scenario, run, progress } = ctx;
  const source = quantSource(ctx);
  await uploadScenario(ctx);
  progress.phase = RunPhase.quantizing;
  const gpu = gpuJobs(scenario.environment.gpu_pool, ctx.gpuHeartbeatTimeout);
  let original: Promise<Record<string, number>> | undefined;
  const benchmarkOriginal = () =>
    (original ??= (async () => {
      const measured = await gpu.benchmark.executeWithOptions({ summary: benchmarkSummary(`${ctx.label} original`, source, scenario) }, [{ runId: run.runId, scenario, model: source, name: 'benchmark-orig' }]);
      await tracking.logBatch({ runId: run.runId, metrics: prefixMetrics('orig', measured.metrics) });
      await uploadFromHost(measured.hostQueue, run.artifactUri, measured.files, ctx.hostUploadWait);
      return measured.metrics;
    })());

  const settled = await Promise.allSettled(scenario.quantization!.variants.map((variant) => variantRun(ctx, source, benchmarkOriginal, variant)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const variants = settled.map((s) => (s as PromiseFulfilledResult<VariantResult>).value);
  return { orig: await benchmarkOriginal(), variants };
}

async function variantRun(
  ctx: StageContext & { experimentId: string },
  source: string,
  benchmarkOriginal: () => Promise<Record<string, number>>,
  variant: QuantVariant,
): Promise<VariantResult> {
  const { scenario } = ctx;
  const label = `${variant.backend}_${variant.precision}`;
  const lineage = { 'source.model': source, ...(scenario.quantization?.source_run_id && { 'source.run_id': scenario.quantization.source_run_id }) };
  const run = await openRun({
    scenario,
    experimentId: ctx.experimentId,
    runName: `${runName(scenario)}-${variant.backend}-${variant.precision}`,
    trial: `variant:${label}`,
    parentRunId: ctx.run.runId,
    tags: { ...lineage, 'quant.backend': variant.backend, 'quant.precision': variant.precision },
    params: { 'quant.backend': variant.backend, 'quant.precision': variant.precision },
  });
  return endingRun(run.runId, async () => {
    const gpu = gpuJobs(scenario.environment.gpu_pool, ctx.gpuHeartbeatTimeout);
    const exported = await gpu.exportModel.executeWithOptions(
      { summary: `export ${ctx.label} → ${variant.backend} ${variant.precision} · ${source} · pool ${scenario.environment.gpu_pool}` },
      [{ runId: run.runId, scenario, weights: source, variants: [variant] }],
    );
    const [model] = exported.exports;
    await uploadFromHost(exported.hostQueue, run.artifactUri, [...model.files, ...exported.files], ctx.hostUploadWait);
    const artifactPath = `exports/${model.localPath.split('/').pop()}`;

    const orig = await benchmarkOriginal();
    const measured = await gpu.benchmark.executeWithOptions({ summary: benchmarkSummary(`${ctx.label} ${label}`, artifactPath, scenario) }, [{ runId: run.runId, scenario, model: `runs:/${run.runId}/${artifactPath}`, name: 'benchmark-quant' }]);
    const metrics = { ...prefixMetrics('quant', measured.metrics), ...prefixMetrics('orig', orig), ...comparisonMetrics(orig, measured.metrics) };
    await tracking.logBatch({ runId: run.runId, metrics });
    await uploadFromHost(measured.hostQueue, run.artifactUri, measured.files, ctx.hostUploadWait);

    const registered = await tracking.registerModel({
      name: registeredModelName(scenario, variant),
      runId: run.runId,
      source: `${run.artifactUri}/${artifactPath}`,
      alias: Alias.candidate,
      tags: { ...lineage, 'exp.type': 'quant', 'data.version': scenario.dataset.version },
    });
    return { variant, runId: run.runId, metrics, model: registered };
  });
}
