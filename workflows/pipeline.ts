import { executeChild, isCancellation, patched, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { pipelineProgressQuery, PipelinePhase, type PipelineProgress, type RegisteredModelRef } from '../common/contract';
import { actor, RegistryOp } from '../common/registry';
import { scenarioMetadata, type UiLinks } from '../common/workflow-metadata';
import { experimentName, parentRunName } from '../scenarios/naming';
import { PromotionSchema, type Scenario } from '../scenarios/schema';
import { benchmarkChampions, type ChampionBenchmark, type PromotedChampion } from './champion-benchmarks';
import { pipelineCurrentDetails, type StageOutcome } from './current-details';
import { gateTrained, gateVariant, type GateDecision } from './promotion-gate';
import { controlStorage, registry, tracking } from './proxies';
import { endingRun, openRun } from './recorded-run';
import { moveAliases } from './registry-move';
import { singleRun, type SingleRunResult } from './single-run';
import { markWorkflow } from './search-attributes';
import { validScenario } from './valid-scenario';

export interface PipelineInput {
  scenario: unknown;
  gpuHeartbeatTimeout?: Duration;
  /** The UIs the Web UI's details link to (from the starter's settings), handed on to the stages. */
  links?: UiLinks;
}

export interface PipelineResult {
  experimentId: string;
  runId: string;
  runName: string;
  trained: SingleRunResult;
  quantized: SingleRunResult;
  decisions: GateDecision[];
  promoted: RegisteredModelRef[];
  /** The infer stage: one benchmark of each promoted champion (empty when nothing was promoted). */
  infer: ChampionBenchmark[];
}

/**
 * The change that added the infer stage: pipelines whose history was recorded before it replay
 * without it (test/histories/pipeline-before-infer.json).
 */
const INFER_STAGE_PATCH = 'pipeline-infer-stage';

/** The gate a scenario without `promotion:` gets: the schema's defaults, so the two cannot drift apart. */
const DEFAULT_PROMOTION = PromotionSchema.parse({});

/**
 * train → export each variant → benchmark each → promotion gate → promote what passes →
 * benchmark each new champion (infer). A parent MLflow run holds the stage runs (child
 * workflows, each with its own runs) and a summary table; the Temporal UI shows the stages as
 * child workflows.
 */
export async function pipeline(input: PipelineInput): Promise<PipelineResult> {
  const scenario = validScenario(input.scenario, 'pipeline');
  const progress: PipelineProgress = { phase: PipelinePhase.starting };
  setHandler(pipelineProgressQuery, () => progress);
  /** Each finished stage's result, for the Web UI's current details (a handful of lines). */
  const stages: StageOutcome[] = [];
  const showDetails = (phase?: PipelinePhase, done?: StageOutcome) => {
    if (phase) progress.phase = phase;
    if (done) stages.push(done);
    setCurrentDetails(pipelineCurrentDetails(progress, stages, input.links));
  };
  markWorkflow(scenario);
  const name = parentRunName(scenario);
  const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
  const parent = await openRun({ scenario, experimentId, runName: name, trial: 'pipeline' });
  Object.assign(progress, { experimentId, runId: parent.runId });
  const { workflowId } = workflowInfo();
  const stage = (suffix: string, staged: Scenario) =>
    executeChild(singleRun, {
      workflowId: `${workflowId}/${suffix}`,
      args: [{ scenario: staged, parentRunId: parent.runId, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout, links: input.links }],
      ...scenarioMetadata(staged, { links: input.links, role: `pipeline stage ${suffix}`, mlflow: { experimentId, runId: parent.runId, runLabel: 'parent run' } }),
    });
  const metric = (scenario.promotion ?? DEFAULT_PROMOTION).metric;
  const valueOf = (result: SingleRunResult, key: string) => (result.metrics[key] === undefined ? `no \`${key}\`` : `\`${key}\` = ${Number(result.metrics[key].toFixed(4))}`);

  try {
    const result = await endingRun(parent.runId, async () => {
      showDetails(PipelinePhase.training);
      const trained = await stage('train', { ...scenario, design: 'single' });
      progress.trainRunId = trained.runId;

      showDetails(PipelinePhase.quantizing, { stage: 'train', result: `run ${trained.runId} · ${valueOf(trained, metric)}${trained.model ? ` · ${trained.model.name} v${trained.model.version}` : ''}` });
      const quantization = { ...scenario.quantization!, source_run_id: trained.runId };
      const quantized = await stage('quant', { ...scenario, type: 'quant', design: 'single', quantization });

      const variants = (quantized.variants ?? []).map((v) => `${v.variant.backend} ${v.variant.precision} v${v.model.version}`);
      showDetails(PipelinePhase.promoting, { stage: 'quant', result: `run ${quantized.runId} · ${variants.join(', ') || 'no variant'}` });
      const decisions = await decide(scenario, trained, quantized);
      progress.decisions = decisions;
      showDetails(undefined, { stage: 'gate', result: decisions.map((d) => `${d.model} v${d.version} ${d.promote ? 'promoted' : 'refused'}`).join('; ') });
      const promoted: RegisteredModelRef[] = [];
      for (const d of decisions.filter((x) => x.promote)) {
        await moveAliases({ model: d.model, op: RegistryOp.promote, version: d.version, by: actor.workflow(workflowId), reason: d.reason });
        promoted.push({ name: d.model, version: d.version, alias: 'champion' });
      }

      const inferStage = patched(INFER_STAGE_PATCH);
      let infer: ChampionBenchmark[] = [];
      if (inferStage && promoted.length > 0) {
        showDetails(PipelinePhase.benchmarking);
        const champions = promoted.map((model): PromotedChampion => ({ model, variant: quantized.variants?.find((v) => v.model.name === model.name)?.variant }));
        infer = await benchmarkChampions({ scenario, workflowId, parentRunId: parent.runId, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout, champions, links: input.links, experimentId });
        const failed = infer.filter((b) => b.error !== undefined).length;
        showDetails(undefined, { stage: 'infer', result: `${infer.length - failed} champions benchmarked${failed > 0 ? `, ${failed} failed` : ''}` });
      }
      await controlStorage.uploadCsv({ artifactUri: parent.artifactUri, artifactPath: 'summary.csv', rows: summaryRows(trained, quantized, decisions, infer) });
      await tracking.logBatch({
        runId: parent.runId,
        metrics: {
          'pipeline.variants': quantized.variants?.length ?? 0,
          'pipeline.promoted': promoted.length,
          ...(inferStage && { 'pipeline.infer_failed': infer.filter((b) => b.error !== undefined).length }),
        },
        tags: { 'pipeline.train_run_id': trained.runId, 'pipeline.quant_run_id': quantized.runId, ...(inferStage && inferTags(infer)) },
      });
      return { experimentId, runId: parent.runId, runName: name, trained, quantized, decisions, promoted, infer };
    });
    showDetails(PipelinePhase.finished);
    return result;
  } catch (err) {
    progress.error = err instanceof Error ? err.message : String(err);
    showDetails(isCancellation(err) ? PipelinePhase.cancelled : PipelinePhase.failed);
    throw err;
  }
}

async function decide(scenario: Scenario, trained: SingleRunResult, quantized: SingleRunResult): Promise<GateDecision[]> {
  const promotion = scenario.promotion ?? DEFAULT_PROMOTION;
  const model = trained.model!;
  const champion = await registry.championMetric.executeWithOptions({ summary: `read ${model.name}'s champion ${promotion.metric}` }, [{ model: model.name, metric: promotion.metric }]);
  const source = gateTrained(promotion, model, trained.metrics[promotion.metric], champion);
  const variants = (quantized.variants ?? []).map((v) =>
    gateVariant(promotion, v.model, source.promote, v.metrics[`orig.${promotion.metric}`], v.metrics[`quant.${promotion.metric}`]),
  );
  return [source, ...variants];
}

/**
 * The parent run's tags for the infer stage: `pipeline.infer` (`finished`, `failed: …` naming
 * each failed benchmark's model, or `skipped: nothing promoted`) and the finished runs' ids. The
 * causes, which can be long (MLflow refuses a tag value over 8,000 characters), are in
 * summary.csv and the result.
 */
function inferTags(infer: ChampionBenchmark[]): Record<string, string> {
  if (infer.length === 0) return { 'pipeline.infer': 'skipped: nothing promoted' };
  const failed = infer.filter((b) => b.error !== undefined);
  const runIds = infer.flatMap((b) => (b.runId ? [b.runId] : []));
  return {
    'pipeline.infer': failed.length === 0 ? 'finished' : `failed: ${failed.map((b) => b.modelSource).join(', ')} (causes in summary.csv)`,
    ...(runIds.length > 0 && { 'pipeline.infer_run_ids': runIds.join(',') }),
  };
}

function summaryRows(trained: SingleRunResult, quantized: SingleRunResult, decisions: GateDecision[], infer: ChampionBenchmark[]) {
  const row = (stage: string, runId: string, model: RegisteredModelRef | undefined, value: (key: string) => number | undefined, failure?: string) => {
    const decision = decisions.find((d) => d.model === model?.name);
    return {
      stage,
      run_id: runId,
      model: model ? `${model.name}@v${model.version}` : '',
      ...Object.fromEntries(SUMMARY_METRICS.map((key) => [key, value(key) ?? null])),
      promoted: decision?.promote ?? false,
      reason: failure ?? decision?.reason ?? '',
    };
  };
  return [
    row('train', trained.runId, trained.model, (key) => quantized.metrics[key] ?? trained.metrics[key]),
    ...(quantized.variants ?? []).map((v) =>
      row(`${v.variant.backend}_${v.variant.precision}`, v.runId, v.model, (key) => v.metrics[key.startsWith('comparison.') ? key : `quant.${key}`]),
    ),
    // the champions' own benchmarks: the figures the fleet reads
    ...infer.map((b) =>
      row(b.variant ? `infer_${b.variant.backend}_${b.variant.precision}` : 'infer', b.runId ?? '', b.model, (key) => b.metrics?.[key], b.error && `infer failed: ${b.error}`),
    ),
  ];
}

const SUMMARY_METRICS = ['det.mAP50', 'det.mAP50_95', 'sys.latency_ms', 'sys.fps', 'sys.model_size_mb', 'comparison.accuracy_drop_mAP50', 'comparison.speedup_ratio', 'comparison.compression_ratio'];
