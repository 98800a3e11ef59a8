import { executeChild, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { WorkflowType, type PromotionProgress, type RegisteredModelRef } from '../common/contract';
import { promotionWorkflowId } from '../common/registry';
import { promotionMetadata, scenarioMetadata, section, type UiLinks } from '../common/workflow-metadata';
import type { PlannedAction } from '../optimizer/action-scenario';
import type { OptimizerRule } from '../optimizer/policy-schema';
import { guardedPromotion } from './guarded-promotion';
import { gateTrained, gateVariant, type GateDecision } from './promotion-gate';
import { registry } from './proxies';
import { singleRun, type SingleRunResult } from './single-run';
import { sweep, type SweepResult } from './sweep';

export interface OptimizerActionInput {
  /** The existing workflow and scenario that carry out the action (optimizer/action-scenario.ts). */
  planned: PlannedAction;
  /** The rule that started it: its promotion policy guards the candidates, its `when` is the default soak breach. */
  rule: OptimizerRule;
  /** The UIs the Web UI's details link to, handed on to the action and the promotions. */
  links?: UiLinks;
}

export interface OptimizerActionResult {
  /** The action's own workflow, a child under `{this id}/action`. */
  actionWorkflowId: string;
  runId: string;
  /** One guarded promotion per new candidate (a retrain's model; each quantized variant). */
  promotions: PromotionProgress[];
}

/**
 * One optimizer action, start to end, under its deterministic id `gf/optimizer/{rule}/{site}/{task}/{window}`:
 * the retrain (sweep or single run) or quantization as a child, then each new candidate through
 * its rule's guarded promotion (gate → approval → promote → soak). While any part runs the id is
 * open, so the optimizer counts the action as in flight and starts no other for the same
 * rule × site × task.
 */
export async function optimizerAction(input: OptimizerActionInput): Promise<OptimizerActionResult> {
  const { planned, rule, links } = input;
  const actionWorkflowId = `${workflowInfo().workflowId}/action`;
  const args = [{ scenario: planned.scenario, links }] as const;
  const actionMetadata = scenarioMetadata(planned.scenario, { links, role: `optimizer ${rule.action.type} (${rule.name})` });
  setCurrentDetails(`**running** the action \`${actionWorkflowId}\``);
  const candidates: { model: RegisteredModelRef; gate: GateDecision }[] = [];
  const gate = rule.promotion.gate;
  let runId: string;
  if (planned.workflowType === WorkflowType.sweep) {
    const result: SweepResult = await executeChild(sweep, { workflowId: actionWorkflowId, args, ...actionMetadata });
    runId = result.runId;
    if (result.model) candidates.push(await trainedCandidate(result.model, result.best?.value));
  } else {
    const result: SingleRunResult = await executeChild(singleRun, { workflowId: actionWorkflowId, args, ...actionMetadata });
    runId = result.runId;
    if (result.model) candidates.push(await trainedCandidate(result.model, result.metrics[gate.metric]));
    // a variant of the champion: its source is the champion itself, so only the accuracy drop gates it
    for (const v of result.variants ?? []) candidates.push({ model: v.model, gate: gateVariant(gate, v.model, true, v.metrics[`orig.${gate.metric}`], v.metrics[`quant.${gate.metric}`]) });
  }
  const rollbackWhen = rule.promotion.rollback_when ?? [{ metric: rule.when.metric, comparison: rule.when.comparison, threshold: rule.when.threshold }];
  setCurrentDetails(
    section(
      `**guarding ${candidates.length} candidates** (action run ${runId})`,
      candidates.map(({ model, gate: decided }) => `- \`${promotionWorkflowId(model.name, model.version)}\`: ${decided.reason}`),
    ),
  );
  const promotions = await Promise.all(
    candidates.map(({ model, gate: decided }) => {
      const promotion = { model: model.name, version: model.version, gate: decided, promotion: { ...rule.promotion, rollback_when: rollbackWhen }, links };
      return executeChild(guardedPromotion, { workflowId: promotionWorkflowId(model.name, model.version), args: [promotion], ...promotionMetadata(promotion, links) });
    }),
  );
  setCurrentDetails(section(`**finished** (action run ${runId})`, promotions.map((p) => `- ${p.model} v${p.version}: ${p.phase}${p.reason ? ` (${p.reason})` : ''}`)));
  return { actionWorkflowId, runId, promotions };

  async function trainedCandidate(model: RegisteredModelRef, value: number | undefined) {
    const champion = await registry.championMetric.executeWithOptions({ summary: `read ${model.name}'s champion ${gate.metric}` }, [{ model: model.name, metric: gate.metric }]);
    return { model, gate: gateTrained(gate, model, value, champion) };
  }
}
