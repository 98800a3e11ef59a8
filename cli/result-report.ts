import type { Settings } from '../common/settings';
import type { ComparisonResult } from '../workflows/comparison';
import type { PipelineResult } from '../workflows/pipeline';
import type { SingleRunResult } from '../workflows/single-run';
import type { SweepResult } from '../workflows/sweep';
import { mlflowModelUrl, mlflowRunUrl, temporalWorkflowUrl } from './links';
import { metricSummary } from './progress-view';

/** What any scenario's workflow returns; told apart by shape, since `--wait` follows every design. */
export type ScenarioResult = SingleRunResult | PipelineResult | SweepResult | ComparisonResult;

/** Prints a finished workflow's runs, models and links: what a person opens next. */
export function printResult(settings: Settings, id: string, r: ScenarioResult): void {
  if ('trained' in r) printPipeline(settings, id, r);
  else if ('total' in r) printSweep(settings, id, r);
  else if ('rows' in r) printComparison(settings, id, r);
  else printSingleRun(settings, id, r);
}

function printSingleRun(settings: Settings, id: string, r: SingleRunResult, indent = ''): void {
  console.log(`${indent}run ${r.runName} finished`);
  console.log(`${indent}  run id:  ${r.runId}`);
  console.log(`${indent}  metrics: ${metricSummary(r.metrics)}`);
  if (r.batchSizeAnswer) console.log(`${indent}  best batch size: ${r.batchSizeAnswer}`);
  if (r.model) console.log(`${indent}  model:   ${r.model.name}@${r.model.alias} (version ${r.model.version})`);
  for (const v of r.variants ?? []) {
    console.log(`${indent}  variant ${v.variant.backend}/${v.variant.precision}: run ${v.runId} ${variantSummary(v.metrics)}`);
    console.log(`${indent}    model: ${v.model.name}@${v.model.alias} (version ${v.model.version})`);
  }
  console.log(`${indent}  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  if (r.model) console.log(`${indent}  registry: ${mlflowModelUrl(settings, r.model.name, r.model.version)}`);
  console.log(`${indent}  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

function printPipeline(settings: Settings, id: string, r: PipelineResult): void {
  console.log(`pipeline ${r.runName} finished`);
  console.log(`  run id:   ${r.runId}`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
  printSingleRun(settings, `${id}/train`, r.trained, '  ');
  printSingleRun(settings, `${id}/quant`, r.quantized, '  ');
  console.log('  promotion gate:');
  for (const d of r.decisions) console.log(`    ${d.promote ? 'promoted' : 'kept    '} ${d.model} v${d.version}: ${d.reason}`);
  if (r.infer.length > 0) console.log('  champion benchmarks (infer):');
  for (const b of r.infer) console.log(`    ${b.modelSource}: ${b.error === undefined ? `run ${b.runId} ${metricSummary(b.metrics ?? {})}` : `FAILED ${b.error}`}`);
}

function printSweep(settings: Settings, id: string, r: SweepResult): void {
  console.log(`sweep ${r.runName} finished: ${r.done} done, ${r.failed} failed, ${r.stopped} stopped early of ${r.total}`);
  console.log(`  run id:   ${r.runId}`);
  if (r.best) console.log(`  best:     trial ${r.best.index} run ${r.best.runId} value ${r.best.value.toFixed(4)} ${JSON.stringify(r.best.params)}`);
  if (r.model) console.log(`  model:    ${r.model.name}@${r.model.alias} (version ${r.model.version})`);
  if (r.stopped > 0) console.log(`  GPU time saved by early stopping: ${r.gpuSecondsSaved.toFixed(0)} s`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  if (r.model) console.log(`  registry: ${mlflowModelUrl(settings, r.model.name, r.model.version)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

function printComparison(settings: Settings, id: string, r: ComparisonResult): void {
  console.log(`comparison ${r.runName} finished: ${r.rows} runs compared, ${r.failed} failed`);
  console.log(`  run id:   ${r.runId}`);
  if (r.best) console.log(`  best:     ${r.best.label} (run ${r.best.runId}) value ${r.best.value.toFixed(4)}`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

/** A variant's own accuracy and what quantizing changed. */
function variantSummary(metrics: Record<string, number>): string {
  const own = Object.fromEntries(Object.entries(metrics).flatMap(([k, v]) => (k.startsWith('quant.') ? [[k.slice('quant.'.length), v]] : [])));
  const changes = ['comparison.accuracy_drop_mAP50', 'comparison.speedup_ratio', 'comparison.compression_ratio'].filter((k) => k in metrics).map((k) => `${k.slice('comparison.'.length)}=${metrics[k].toFixed(3)}`);
  return [metricSummary(own), ...changes].filter(Boolean).join(' ');
}
