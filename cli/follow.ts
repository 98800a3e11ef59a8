import { WorkflowFailedError, type Client } from '@temporalio/client';
import { PipelinePhase, progressQuery, type BatchProgress, type SingleRunProgress } from '../common/contract';
import type { Settings } from '../common/settings';
import { CliError } from './cli-error';
import { temporalWorkflowUrl } from './links';
import { ProgressView } from './progress-view';
import { printResult, type ScenarioResult } from './result-report';
import { applicationFailureOf } from './temporal';

/** The progress to show: a pipeline's, or while it trains or quantizes, that stage's own; a sweep's or comparison's trials. */
export async function currentProgress(client: Client, id: string): Promise<SingleRunProgress | BatchProgress> {
  const progress = await client.workflow.getHandle(id).query<SingleRunProgress | BatchProgress>('progress');
  if ('total' in progress) return progress;
  const stage = progress.phase === PipelinePhase.training ? 'train' : progress.phase === PipelinePhase.quantizing ? 'quant' : undefined;
  const isPipeline = 'trainRunId' in progress || id.startsWith(`gf/pipeline/`);
  if (!isPipeline || !stage) return progress;
  const child = await client.workflow.getHandle(`${id}/${stage}`).query(progressQuery).catch(() => undefined);
  return child ? { ...child, phase: `${stage}: ${child.phase}` as SingleRunProgress['phase'] } : progress;
}

/**
 * Shows a workflow's progress every second until it closes (across continue-as-new), then
 * its result; a failure exits 1 with the root cause and where to look.
 */
export async function followToEnd(client: Client, settings: Settings, id: string): Promise<void> {
  const view = new ProgressView();
  const poll = setInterval(() => {
    currentProgress(client, id).then(
      (p) => view.update(p),
      () => undefined,
    );
  }, 1000);
  try {
    const result = (await client.workflow.getHandle(id).result()) as ScenarioResult;
    view.stop();
    printResult(settings, id, result);
  } catch (err) {
    view.stop();
    if (err instanceof WorkflowFailedError) {
      const failure = applicationFailureOf(err);
      const reason = failure ? `${failure.type ?? 'Error'}: ${failure.message}` : (err.cause?.message ?? err.message);
      throw new CliError(`workflow ${id} failed: ${reason}\n  Temporal: ${temporalWorkflowUrl(settings, id)}`, 1, { cause: err });
    }
    throw err;
  } finally {
    clearInterval(poll);
  }
}
