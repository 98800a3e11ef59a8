import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import type { CreatedRun } from '../activities/tracking/activities';
import { runKey } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';
import { scenarioParams, scenarioTags } from '../scenarios/tracking-fields';
import { tracking } from './proxies';

export interface OpenRunOptions {
  scenario: Scenario;
  experimentId: string;
  runName: string;
  /** Distinguishes the runs of one workflow (`main`, `variant:onnx_fp16`); part of the run key. */
  trial: string;
  parentRunId?: string;
  tags?: Record<string, string>;
  params?: Record<string, string>;
}

/** Creates (or, on a retry, finds) the MLflow run of one trial, tagged with the scenario and workflow. */
export async function openRun(opts: OpenRunOptions): Promise<CreatedRun> {
  const info = workflowInfo();
  return tracking.createRun.executeWithOptions({ summary: `open MLflow run ${opts.runName}${opts.parentRunId ? ` under ${opts.parentRunId}` : ''}` }, [{
    experimentId: opts.experimentId,
    runName: opts.runName,
    runKey: runKey(info.workflowId, info.firstExecutionRunId, opts.trial),
    tags: {
      ...scenarioTags(opts.scenario),
      'gf.workflow_id': info.workflowId,
      'gf.temporal_run_id': info.firstExecutionRunId,
      ...(opts.parentRunId && { 'mlflow.parentRunId': opts.parentRunId }),
      ...opts.tags,
    },
    params: { ...scenarioParams(opts.scenario), ...opts.params },
  }]);
}

/**
 * Runs `body` for an open run and always ends the run: FINISHED, FAILED, or KILLED on
 * cancellation (docs/architecture.md §8: no run is ever left RUNNING). The end survives the cancel.
 */
export async function endingRun<T>(runId: string, body: () => Promise<T>): Promise<T> {
  try {
    const value = await body();
    await endRun(runId, 'FINISHED');
    return value;
  } catch (err) {
    await CancellationScope.nonCancellable(() => endRun(runId, isCancellation(err) ? 'KILLED' : 'FAILED'));
    throw err;
  }
}

/** Ends an MLflow run, saying so in the Web UI's event history. */
export function endRun(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
  return tracking.endRun.executeWithOptions({ summary: `end MLflow run ${runId} ${status}` }, [{ runId, status }]);
}
