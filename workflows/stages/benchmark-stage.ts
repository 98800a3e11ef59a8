import { patched } from '@temporalio/workflow';
import { RunPhase } from '../../common/contract';
import { parseModelReference } from '../../scenarios/model-reference';
import type { Scenario } from '../../scenarios/schema';
import { bestBatchSize } from '../best-batch-size';
import { gpuJobs, tracking } from '../proxies';
import { uploadFromHost } from './host-upload';
import { uploadScenario, type StageContext } from './train-stage';

export interface BenchmarkStageResult {
  metrics: Record<string, number>;
  /** Which batch size to deploy with, in words (tag `sys.batch_size_answer`); absent when no batch size was measured. */
  batchSizeAnswer?: string;
}

/**
 * Benchmark a model (a path, `runs:/…` or `models:/name@alias`) on the scenario's data and record
 * it, with the batch size to deploy with (`sys.best_batch_size`, `sys.best_fps`) within the
 * scenario's latency budget, or a tag saying no batch size meets it.
 */
export async function benchmarkStage(ctx: StageContext, model: string): Promise<BenchmarkStageResult> {
  const { scenario, run, progress, gpuHeartbeatTimeout, hostUploadWait, label } = ctx;
  await uploadScenario(ctx);
  progress.phase = RunPhase.benchmarking;
  const measured = await gpuJobs(scenario.environment.gpu_pool, gpuHeartbeatTimeout).benchmark.executeWithOptions({ summary: benchmarkSummary(label, model, scenario) }, [{ runId: run.runId, scenario, model }]);
  progress.phase = RunPhase.recording;
  const answer = bestBatchSize(measured.metrics, scenario.benchmark?.batch_sizes ?? [1], scenario.benchmark?.latency_budget_ms);
  const metrics = { ...measured.metrics, ...answer?.metrics };
  await tracking.logBatch.executeWithOptions({ summary: `record ${label}'s benchmark (${Object.keys(metrics).length} metrics)` }, [{ runId: run.runId, metrics, tags: answer?.tags }]);
  await uploadFromHost(measured.hostQueue, run.artifactUri, measured.files, hostUploadWait);
  const version = registeredVersion(model);
  if (version && metrics['sys.latency_ms_p95'] !== undefined && patched(VERSION_LATENCY_PATCH)) {
    await tracking.tagBenchmarkedVersion.executeWithOptions({ summary: `tag ${version.name} v${version.version} with ${label}'s latency p95` }, [{ ...version, runId: run.runId }]);
  }
  return { metrics, ...(answer && { batchSizeAnswer: answer.summary }) };
}

/**
 * A benchmark of one registered version (`models:/<name>/<version>`: a pipeline's champion
 * benchmarks) tags that version with its latency p95, which a trained model's registration could
 * not know. Benchmarks started before this change did not: they replay without the command.
 */
const VERSION_LATENCY_PATCH = 'benchmark-tags-version-latency';

/** The version a `models:/<name>/<version>` reference names; an alias or a path names none the workflow knows. */
function registeredVersion(model: string): { name: string; version: string } | undefined {
  const ref = parseModelReference(model);
  return 'kind' in ref && ref.kind === 'registered' && ref.version !== undefined ? { name: ref.name, version: ref.version } : undefined;
}

/** `benchmark arm 2 · models:/acme.ppe/3 · bs 1,8 · pool default`: what a benchmark job measures, and on which pool. */
export function benchmarkSummary(label: string, model: string, scenario: Scenario): string {
  return `benchmark ${label} · ${model} · bs ${(scenario.benchmark?.batch_sizes ?? [1]).join(',')} · pool ${scenario.environment.gpu_pool}`;
}
