import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { createRegistryActivities } from '../activities/registry/activities';
import { CONTROL_QUEUE } from '../common/contract';
import { FailureType, NON_RETRYABLE_FAILURES } from '../common/failure-types';
import { applyMove, planPromote, planRollback, RegistryMoveError, RegistryOp, type AliasMove, type ModelAliases } from '../common/registry';

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
}

export interface RegistryMoveResult {
  model: string;
  op: RegistryOp;
  before: Record<string, string>;
  after: Record<string, string>;
}

/**
 * Promotes or rolls back a registered model. It runs under the model's own workflow id, so
 * moves of one model never interleave; the plan is fixed before the first change and applied
 * by an idempotent activity, so a retry never leaves a half-made move.
 */
export async function registryMove(input: RegistryMoveInput): Promise<RegistryMoveResult> {
  const state = await registry.readAliases({ model: input.model });
  const move = plan(input, state);
  await registry.applyAliases({ model: input.model, move });
  return { model: input.model, op: input.op, before: state.aliases, after: applyMove(state.aliases, move) };
}

function plan(input: RegistryMoveInput, state: ModelAliases): AliasMove {
  try {
    return input.op === RegistryOp.promote ? planPromote(input.model, state, input.version) : planRollback(input.model, state);
  } catch (err) {
    if (err instanceof RegistryMoveError) throw ApplicationFailure.create({ message: err.message, type: FailureType.RegistryMoveRefused, nonRetryable: true });
    throw err;
  }
}
