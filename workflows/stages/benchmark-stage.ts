import { stringify } from 'yaml';
import { RunPhase } from '../../common/contract';
import { bestBatchSize } from '../best-batch-size';
import { controlStorage, gpuJobs, tracking } from '../proxies';
import { uploadFromHost } from './host-upload';
import type { StageContext } from './train-stage';

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
export async function benchmarkStage({ scenario, run, progress, gpuHeartbeatTimeout, hostUploadWait }: StageContext, model: string): Promise<BenchmarkStageResult> {
  await controlStorage.uploadText({ artifactUri: run.artifactUri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) });
  progress.phase = RunPhase.benchmarking;
  const measured = await gpuJobs(scenario.environment.gpu_pool, gpuHeartbeatTimeout).benchmark({ runId: run.runId, scenario, model });
  progress.phase = RunPhase.recording;
  const answer = bestBatchSize(measured.metrics, scenario.benchmark?.batch_sizes ?? [1], scenario.benchmark?.latency_budget_ms);
  const metrics = { ...measured.metrics, ...answer?.metrics };
  await tracking.logBatch({ runId: run.runId, metrics, tags: answer?.tags });
  await uploadFromHost(measured.hostQueue, run.artifactUri, measured.files, hostUploadWait);
  return { metrics, ...(answer && { batchSizeAnswer: answer.summary }) };
}
