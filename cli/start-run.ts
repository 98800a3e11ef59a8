import { WorkflowIdReusePolicy, type Client, type Workflow, type WorkflowHandle } from '@temporalio/client';
import { CONTROL_QUEUE, SearchAttr, WorkflowType } from '../common/contract';
import { scenarioMetadata, type UiLinks } from '../common/workflow-metadata';
import { experimentName, workflowId } from '../scenarios/naming';
import { DEFAULT_POOL_POLICY, scenarioPriority, type PoolPolicy } from '../scenarios/pool-policy';
import { loadPoolPolicy, PoolPolicyError } from '../scenarios/pool-policy-loader';
import type { Scenario } from '../scenarios/schema';
import { CliError } from './cli-error';
import type { singleRun } from '../workflows/single-run';

/** Scenario designs and types that have a workflow today; others are refused before starting. */
export function workflowFor(s: Scenario): WorkflowType {
  if (s.design === 'single') return WorkflowType.singleRun;
  if (s.design === 'pipeline' && s.type === 'train') return WorkflowType.pipeline;
  if (s.design === 'sweep') return WorkflowType.sweep;
  if (s.design === 'comparison') return WorkflowType.comparison;
  throw new UnsupportedScenarioError(`type: ${s.type}, design: ${s.design} has no workflow (a pipeline starts with type: train)`);
}

export class UnsupportedScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedScenarioError';
  }
}

/**
 * Starts the workflow of a validated scenario under its deterministic id, so starting the same
 * scenario twice is refused unless `rerun` is asked for. Every design's workflow takes
 * `{ scenario, links? }`; the caller who knows the design names its workflow type for a typed
 * result. The Web UI shows the scenario's summary and details (`links`: where they point). It
 * carries the scenario's pool priority (its level, its customer's fair share under `pool`), which
 * its children and GPU jobs inherit (`pool`: the pool policy, default equal shares by customer).
 */
export async function startScenario<W extends Workflow = typeof singleRun>(client: Client, scenario: Scenario, opts: { rerun?: boolean; links?: UiLinks; pool?: PoolPolicy } = {}): Promise<WorkflowHandle<W>> {
  const handle = await client.workflow.start(workflowFor(scenario), {
    taskQueue: CONTROL_QUEUE,
    workflowId: workflowId(scenario),
    args: [{ scenario, ...(opts.links && { links: opts.links }) }],
    ...scenarioMetadata(scenario, { links: opts.links }),
    priority: scenarioPriority(scenario, opts.pool ?? DEFAULT_POOL_POLICY),
    workflowIdReusePolicy: opts.rerun ? WorkflowIdReusePolicy.ALLOW_DUPLICATE : WorkflowIdReusePolicy.REJECT_DUPLICATE,
    typedSearchAttributes: [
      { key: SearchAttr.site, value: experimentName(scenario) },
      { key: SearchAttr.task, value: scenario.task.type },
      { key: SearchAttr.design, value: scenario.design },
      { key: SearchAttr.type, value: scenario.type },
    ],
  });
  return handle as WorkflowHandle<W>;
}

/** The pool policy of a starting command; a bad pool.yaml exits 2 before Temporal is contacted. */
export async function cliPoolPolicy(): Promise<PoolPolicy> {
  return loadPoolPolicy().catch((err: unknown) => {
    if (err instanceof PoolPolicyError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  });
}
