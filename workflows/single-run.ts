import { ApplicationFailure, isCancellation, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { RunPhase, SearchAttr, progressQuery, trainingProgressSignal, type RegisteredModelRef, type SingleRunProgress } from '../common/contract';
import { FailureType } from '../common/failure-types';
import { experimentName, runName } from '../scenarios/naming';
import { tracking } from './proxies';
import { validScenario } from './valid-scenario';
import { endingRun, openRun } from './recorded-run';
import { benchmarkStage } from './stages/benchmark-stage';
import { quantizeStage, type VariantResult } from './stages/quantize-stage';
import { trainStage } from './stages/train-stage';

export interface SingleRunInput {
  /** The scenario as parsed from YAML (validated again here: plain `temporal workflow start` skips the CLI). */
  scenario: unknown;
  /** Nests this run under a pipeline's run. */
  parentRunId?: string;
  /** How long a GPU job may go without a heartbeat before it is retried elsewhere (default 2m). */
  gpuHeartbeatTimeout?: Duration;
}

export interface SingleRunResult {
  experimentId: string;
  runId: string;
  runName: string;
  metrics: Record<string, number>;
  /** The registered version of a trained model. */
  model?: RegisteredModelRef;
  /** The exported variants of a quant scenario, each in its own nested run. */
  variants?: VariantResult[];
}

/**
 * One train, infer or quant job recorded as an MLflow run (quant: plus one nested run per
 * variant) that always ends FINISHED, FAILED or KILLED.
 */
export async function singleRun(input: SingleRunInput): Promise<SingleRunResult> {
  const scenario = validScenario(input.scenario);
  const progress: SingleRunProgress = { phase: RunPhase.starting };
  setHandler(progressQuery, () => progress);
  setHandler(trainingProgressSignal, (update) => {
    progress.training = update;
  });
  upsertSearchAttributes([
    { key: SearchAttr.site, value: experimentName(scenario) },
    { key: SearchAttr.task, value: scenario.task.type },
    { key: SearchAttr.design, value: scenario.design },
    { key: SearchAttr.type, value: scenario.type },
  ]);
  if (scenario.design !== 'single') {
    throw ApplicationFailure.create({ message: `singleRun runs design: single scenarios; got design: ${scenario.design}`, type: FailureType.InvalidScenario, nonRetryable: true });
  }

  const name = runName(scenario);
  const experimentId = await tracking.ensureExperiment({ name: experimentName(scenario) });
  const run = await openRun({ scenario, experimentId, runName: name, trial: 'main', parentRunId: input.parentRunId });
  Object.assign(progress, { experimentId, runId: run.runId });
  const ctx = { scenario, run, progress, gpuHeartbeatTimeout: input.gpuHeartbeatTimeout };

  try {
    const result = await endingRun(run.runId, async (): Promise<SingleRunResult> => {
      const base = { experimentId, runId: run.runId, runName: name };
      if (scenario.type === 'train') return { ...base, ...(await trainStage(ctx)) };
      if (scenario.type === 'infer') return { ...base, metrics: await benchmarkStage(ctx, scenario.model.weights!) };
      const quantized = await quantizeStage({ ...ctx, experimentId });
      return { ...base, metrics: quantized.orig, variants: quantized.variants };
    });
    progress.phase = RunPhase.finished;
    return result;
  } catch (err) {
    progress.phase = isCancellation(err) ? RunPhase.cancelled : RunPhase.failed;
    progress.error = err instanceof Error ? err.message : String(err);
    throw err;
  }
}
