import type { Priority } from '@temporalio/common';
import { ScenarioSchema, type PriorityLevel, type Scenario } from '../scenarios/schema';
import { WorkflowType } from '../common/contract';
import { ActionType, type OptimizerRule } from './policy-schema';

/**
 * The scenario an optimizer action runs: the champion's own recorded scenario (its training run's
 * `config/scenario.yaml`) with only the action's changes, so the retrain or export is on the same
 * data and settings. Pure: the fleet activity reads the base, the tests check the result.
 */

/** MLflow tags every run of an action carries (through the scenario's `tags`), tracing it to its rule and check. */
export const OptimizerTag = { rule: 'optimizer.rule', checkRunId: 'optimizer.check_run_id', workflowId: 'optimizer.workflow_id' } as const;

export interface ActionOrigin {
  /** The action's child workflow id, `gf/optimizer/{rule}/{site}/{task}/{window}`. */
  workflowId: string;
  /** The MLflow run of the check that started it. */
  checkRunId: string;
  /** The champion's training run: the base scenario's run, and the quantize action's source. */
  championRunId: string;
  /** The GPU pool priority the policy names for the action (absent in checks recorded before priorities: the base's stays). */
  priority?: PriorityLevel;
}

export interface PlannedAction {
  /** Which existing workflow runs it. */
  workflowType: typeof WorkflowType.sweep | typeof WorkflowType.singleRun;
  scenario: Scenario;
  /** The Temporal priority its workflow starts with (its level, its site's share); absent in checks recorded before priorities. */
  priority?: Priority;
}

/** Largest `training.batch_size` the scenario schema takes. */
const MAX_BATCH = 1024;

/**
 * `opt_{rule}_{window}`: a version per action (run names and registered versions tell actions
 * apart). `-` becomes `_` so a rule named like a run-name word cannot make the name ambiguous.
 */
export function actionVersion(rule: string, workflowId: string): string {
  return `opt_${rule.replace(/-/g, '_')}_${workflowId.slice(workflowId.lastIndexOf('/') + 1)}`;
}

/** The base scenario changed by the rule's action; throws (zod) if the result is not a valid scenario. */
export function planAction(base: Scenario, rule: OptimizerRule, origin: ActionOrigin): PlannedAction {
  const common = {
    ...base,
    version: actionVersion(rule.name, origin.workflowId),
    // the base may come from a sweep trial or a comparison: only the action's own design blocks stay
    sweep: undefined,
    comparison: undefined,
    ...(origin.priority && { priority: origin.priority }),
    tags: { ...base.tags, [OptimizerTag.rule]: rule.name, [OptimizerTag.checkRunId]: origin.checkRunId, [OptimizerTag.workflowId]: origin.workflowId },
  };
  const { action } = rule;
  const parse = (scenario: object) => ScenarioSchema.parse(scenario);
  switch (action.type) {
    case ActionType.sweepRetrain:
      return {
        workflowType: WorkflowType.sweep,
        scenario: parse({
          ...common,
          type: 'train',
          design: 'sweep',
          sweep: { parameters: action.parameters, strategy: action.strategy, max_runs: action.max_runs, parallel: action.parallel, metric: rule.promotion.gate.metric },
        }),
      };
    case ActionType.quantize:
      return {
        workflowType: WorkflowType.singleRun,
        scenario: parse({ ...common, type: 'quant', design: 'single', quantization: { ...base.quantization, variants: action.variants, source_run_id: origin.championRunId } }),
      };
    case ActionType.batchUp: {
      const training = base.training;
      if (!training) throw new Error(`${rule.name}: batch_up retrains, but the champion's scenario has no training block`);
      return {
        workflowType: WorkflowType.singleRun,
        scenario: parse({ ...common, type: 'train', design: 'single', training: { ...training, batch_size: Math.min(training.batch_size * action.factor, MAX_BATCH) } }),
      };
    }
  }
}
