import { ApplicationFailure, executeChild, patched, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { createRegistryActivities } from '../activities/registry/activities';
import { CONTROL_QUEUE, REGISTRY_HISTORY_EXPERIMENT } from '../common/contract';
import { FailureType, NON_RETRYABLE_FAILURES } from '../common/failure-types';
import { actor, applyMove, registryWorkflowId, planPromote, planRollback, RegistryMoveError, RegistryOp, type AliasMove, type ModelAliases } from '../common/registry';
import { registryMoveMetadata } from '../common/workflow-metadata';
import { runKey } from '../scenarios/naming';
import { tracking } from './proxies';
import { endingRun } from './recorded-run';

const registry = proxyActivities<ReturnType<typeof createRegistryActivities>>({
  taskQueue: CONTROL_QUEUE,
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE_FAILURES },
});

export interface RegistryMoveInput {
  model: string;
  op: RegistryOp;
  /** promote only: the version to promote instead of the candidate. */
  version?: string;
  /** Who asks for the move (`user:{name}` or `workflow:{id}`, see `actor`); default: the workflow that starts this one, or `unknown`. */
  by?: string;
  /** Why, in words: the gate's decision, a soak breach, a person's reason. */
  reason?: string;
  /** rollback only: refuse (RegistryMoveRefused) unless this version is the champion. */
  expectChampion?: string;
}

export interface RegistryMoveResult {
  model: string;
  op: RegistryOp;
  before: Record<string, string>;
  after: Record<string, string>;
  /** The move's run in the `registry-history` experiment (absent for moves made before the history existed). */
  historyRunId?: string;
}

/** The change that records every move in the alias history; moves recorded before it replay without it. */
const HISTORY_PATCH = 'registry-move-history';

/** Tags of a move's history run: what `gflow history` prints. */
export const HistoryTag = {
  model: 'registry.model',
  op: 'registry.op',
  version: 'registry.version',
  by: 'registry.by',
  reason: 'registry.reason',
  before: 'registry.before',
  after: 'registry.after',
} as const;

/**
 * Promotes or rolls back a registered model. It runs under the model's own workflow id, so
 * moves of one model never interleave; the plan is fixed before the first change and applied
 * by an idempotent activity, so a retry never leaves a half-made move.
 *
 * MLflow keeps no history of alias moves, so each move is also a run of the `registry-history`
 * experiment (when, who, why, the aliases before and after): opened before the aliases change
 * and ended FINISHED after, or FAILED if the apply failed, so the history never claims a move
 * that did not happen.
 */
export async function registryMove(input: RegistryMoveInput): Promise<RegistryMoveResult> {
  const state = await registry.readAliases.executeWithOptions({ summary: `read ${input.model}'s aliases` }, [{ model: input.model }]);
  const move = plan(input, state);
  const after = applyMove(state.aliases, move);
  const result = { model: input.model, op: input.op, before: state.aliases, after };
  if (!patched(HISTORY_PATCH)) {
    await registry.applyAliases({ model: input.model, move });
    return result;
  }
  const info = workflowInfo();
  const experimentId = await tracking.ensureExperiment({ name: REGISTRY_HISTORY_EXPERIMENT });
  const run = await tracking.createRun({
    experimentId,
    runName: `${input.op} ${input.model}`,
    runKey: runKey(info.workflowId, info.firstExecutionRunId, 'move'),
    tags: {
      [HistoryTag.model]: input.model,
      [HistoryTag.op]: input.op,
      [HistoryTag.version]: move.set.champion ?? '',
      [HistoryTag.by]: input.by ?? (info.parent ? actor.workflow(info.parent.workflowId) : 'unknown'),
      [HistoryTag.reason]: (input.reason ?? '').slice(0, 5000) || '-',
      [HistoryTag.before]: JSON.stringify(state.aliases),
      [HistoryTag.after]: JSON.stringify(after),
      'gf.workflow_id': info.workflowId,
    },
    params: {},
  });
  await endingRun(run.runId, () => registry.applyAliases.executeWithOptions({ summary: `move ${input.model}'s aliases to ${JSON.stringify(after)}` }, [{ model: input.model, move }]));
  return { ...result, historyRunId: run.runId };
}

function plan(input: RegistryMoveInput, state: ModelAliases): AliasMove {
  try {
    return input.op === RegistryOp.promote ? planPromote(input.model, state, input.version) : planRollback(input.model, state, input.expectChampion);
  } catch (err) {
    if (err instanceof RegistryMoveError) throw ApplicationFailure.create({ message: err.message, type: FailureType.RegistryMoveRefused, nonRetryable: true });
    throw err;
  }
}

/**
 * Runs a move as a child under the model's registry workflow id (from another workflow: the
 * pipeline's promotions, a guarded promotion's promote and rollback); waits while another move of
 * that model runs.
 */
export async function moveAliases(input: RegistryMoveInput): Promise<RegistryMoveResult> {
  for (;;) {
    try {
      return await executeChild(registryMove, { workflowId: registryWorkflowId(input.model), args: [input], ...registryMoveMetadata(input) });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await sleep('2s', { summary: `wait for the running move of ${input.model}` });
    }
  }
}
