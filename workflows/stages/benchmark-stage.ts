import { stringify } from 'yaml';
import { RunPhase } from '../../common/contract';
import { controlStorage, gpuJobs, tracking } from '../proxies';
import { uploadFromHost } from './host-upload';
import type { StageContext } from './train-stage';

/** Benchmark a model (a path, `runs:/…` or `models:/name@alias`) on the scenario's data and record it. */
export async function benchmarkStage({ scenario, run, progress, gpuHeartbeatTimeout, hostUploadWait }: StageContext, model: string): Promise<Record<string, number>> {
  await controlStorage.uploadText({ artifactUri: run.artifactUri, artifactPath: 'config/scenario.yaml', content: stringify(scenario) });
  progress.phase = RunPhase.benchmarking;
  const measured = await gpuJobs(scenario.environment.gpu_pool, gpuHeartbeatTimeout).benchmark({ runId: run.runId, scenario, model });
  progress.phase = RunPhase.recording;
  await tracking.logBatch({ runId: run.runId, metrics: measured.metrics });
  await uploadFromHost(measured.hostQueue, run.artifactUri, measured.files, hostUploadWait);
  return measured.metrics;
}
