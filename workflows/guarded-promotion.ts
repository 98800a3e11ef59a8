import { ApplicationFailure, condition, isCancellation, setCurrentDetails, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { approveUpdate, promotionProgressQuery, PromotionPhase, rejectUpdate, type PromotionProgress, type PromotionVerdict } from '../common/contract';
import { FailureType } from '../common/failure-types';
import { actor, RegistryOp } from '../common/registry';
import type { UiLinks } from '../common/workflow-metadata';
import { crosses } from '../optimizer/decide';
import { Approval, durationMs, type Breach, type RulePromotion } from '../optimizer/policy-schema';
import { promotionCurrentDetails } from './current-details';
import type { GateDecision } from './promotion-gate';
import { fleet, registry } from './proxies';
import { moveAliases } from './registry-move';

export interface GuardedPromotionInput {
  model: string;
  version: string;
  /** The gate's decision on this version, made by the caller (it has the candidate's numbers). */
  gate: GateDecision;
  /** The rule's promotion policy; `rollback_when` already resolved (the rule's `when` by default). */
  promotion: RulePromotion & { rollback_when?: Breach[] };
  /** The UIs the Web UI's details link to (static details, set by the starter). */
  links?: UiLinks;
}

/** Tags a guarded promotion leaves on the version: where it stands and who decided what, why. */
export const PromotionTag = {
  state: 'promotion.state',
  workflowId: 'promotion.workflow_id',
  gate: 'promotion.gate',
  approvalDeadline: 'promotion.approval_deadline',
  approvedBy: 'promotion.approved_by',
  rejectedBy: 'promotion.rejected_by',
  verdictReason: 'promotion.verdict_reason',
  soakUntil: 'promotion.soak_until',
  reason: 'promotion.reason',
} as const;

/**
 * A candidate becomes champion only through its rule's guards, durably: the gate (decided by the
 * caller), then optionally a person's approval (updates `approve` / `reject`, `gflow approve`;
 * a timeout after which it gives up), then the promote, then optionally a soak during which the
 * new champion's fleet numbers are read on a timer and a breach rolls the promotion back. Every
 * step is a tag on the version and every alias move a registry move, so `gflow history` shows
 * who moved what and why. Runs as `gf/promotion/{model}/v{version}` (promotionWorkflowId).
 */
export async function guardedPromotion(input: GuardedPromotionInput): Promise<PromotionProgress> {
  const { model, version, gate, promotion } = input;
  const progress: PromotionProgress = { phase: PromotionPhase.promoting, model, version, gate: gate.reason };
  const self = actor.workflow(workflowInfo().workflowId);
  let verdict: (PromotionVerdict & { approved: boolean }) | undefined;
  setHandler(promotionProgressQuery, () => progress);
  const answer = (approved: boolean) => (given: PromotionVerdict) => {
    verdict = { by: given.by.trim(), ...(given.reason && { reason: given.reason }), approved };
    progress.verdict = verdict;
    showDetails();
    return progress;
  };
  // validators run before anything is written to history: a late or anonymous answer is refused, not recorded
  const validator = (given: PromotionVerdict) => {
    if (progress.phase !== PromotionPhase.awaitingApproval || verdict !== undefined) throw new Error(`${model} v${version} is not waiting for approval (it is ${progress.phase})`);
    if (typeof given?.by !== 'string' || given.by.trim() === '') throw new Error('by: who approves or rejects is required');
  };
  setHandler(approveUpdate, answer(true), { validator });
  setHandler(rejectUpdate, answer(false), { validator });
  const tag = (tags: Record<string, string>) =>
    registry.tagVersion.executeWithOptions({ summary: `tag ${model} v${version}: ${Object.keys(tags).join(', ')}${tags[PromotionTag.state] ? ` (${tags[PromotionTag.state]})` : ''}` }, [{ model, version, tags }]);
  /** The Web UI's current details: rebuilt at each phase, verdict and soak reading. */
  const showDetails = () => setCurrentDetails(promotionCurrentDetails(progress));
  const end = async (phase: PromotionPhase, tags: Record<string, string> = {}) => {
    progress.phase = phase;
    showDetails();
    await tag({ [PromotionTag.state]: phase, ...tags });
    return progress;
  };

  showDetails();
  try {
    if (!gate.promote) {
      progress.reason = gate.reason;
      return await end(PromotionPhase.refused, { [PromotionTag.workflowId]: workflowInfo().workflowId, [PromotionTag.gate]: gate.reason });
    }
    if (promotion.approval === Approval.required) {
      progress.phase = PromotionPhase.awaitingApproval;
      progress.approvalDeadline = new Date(Date.now() + durationMs(promotion.approval_timeout)).toISOString();
      showDetails();
      await tag({ [PromotionTag.state]: progress.phase, [PromotionTag.workflowId]: workflowInfo().workflowId, [PromotionTag.gate]: gate.reason, [PromotionTag.approvalDeadline]: progress.approvalDeadline });
      const timeout = { summary: `approval timeout of ${model} v${version}: gives up at ${progress.approvalDeadline} (${promotion.approval_timeout})` };
      if (!(await condition(() => verdict !== undefined, durationMs(promotion.approval_timeout), timeout))) {
        progress.reason = `no approval within ${promotion.approval_timeout}`;
        return await end(PromotionPhase.approvalTimeout, { [PromotionTag.reason]: progress.reason });
      }
      const answered = verdict!;
      const who = { [answered.approved ? PromotionTag.approvedBy : PromotionTag.rejectedBy]: answered.by, ...(answered.reason && { [PromotionTag.verdictReason]: answered.reason }) };
      if (!answered.approved) {
        progress.reason = `rejected by ${answered.by}${answered.reason ? `: ${answered.reason}` : ''}`;
        return await end(PromotionPhase.rejected, who);
      }
      await tag(who);
    } else {
      await tag({ [PromotionTag.workflowId]: workflowInfo().workflowId, [PromotionTag.gate]: gate.reason });
    }

    progress.phase = PromotionPhase.promoting;
    showDetails();
    await moveAliases({
      model,
      op: RegistryOp.promote,
      version,
      by: verdict ? actor.user(verdict.by) : self,
      reason: `${gate.reason}${verdict ? `; approved by ${verdict.by}${verdict.reason ? `: ${verdict.reason}` : ''}` : ''}`,
    });

    if (promotion.soak !== undefined) {
      const breach = await soak(input, progress, tag, showDetails);
      if (breach !== undefined) {
        progress.reason = breach;
        await moveAliases({ model, op: RegistryOp.rollback, expectChampion: version, by: self, reason: `soak breach: ${breach}` });
        return await end(PromotionPhase.rolledBack, { [PromotionTag.reason]: `soak breach: ${breach}` });
      }
    }
    return await end(PromotionPhase.promoted);
  } catch (err) {
    if (isCancellation(err)) throw err;
    progress.phase = PromotionPhase.failed;
    progress.reason = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    showDetails();
    throw err;
  }
}

/**
 * Watches the new champion's fleet numbers until the soak ends, reading them every
 * `soak_check_every` (and once at the end); the first breach of `rollback_when` ends it early.
 * Returns the breach in words, or undefined when the soak passed.
 */
async function soak(input: GuardedPromotionInput, progress: PromotionProgress, tag: (tags: Record<string, string>) => Promise<void>, showDetails: () => void): Promise<string | undefined> {
  const { model, version, promotion } = input;
  const watched = promotion.rollback_when ?? [];
  if (watched.length === 0) throw ApplicationFailure.create({ message: `${model} v${version}: a soak needs rollback_when (what counts as a breach)`, type: FailureType.InvalidScenario, nonRetryable: true });
  const until = Date.now() + durationMs(promotion.soak!);
  const every = durationMs(promotion.soak_check_every);
  progress.phase = PromotionPhase.soaking;
  progress.soakUntil = new Date(until).toISOString();
  showDetails();
  await tag({ [PromotionTag.state]: progress.phase, [PromotionTag.soakUntil]: progress.soakUntil });
  const metrics = [...new Set(watched.map((b) => b.metric))];
  while (Date.now() < until) {
    await sleep(Math.min(every, until - Date.now()), { summary: `soak of ${model} v${version} until ${progress.soakUntil}: next reading of ${metrics.join(', ')}` });
    const seen = await fleet.versionMetrics.executeWithOptions({ summary: `read ${model} v${version}'s fleet numbers: ${metrics.join(', ')}` }, [{ model, version, metrics }]);
    progress.soakSeen = seen;
    showDetails();
    const hit = watched.find((b) => seen[b.metric] !== null && crosses(b, seen[b.metric]!));
    if (hit) return `${hit.metric} ${seen[hit.metric]} ${hit.comparison} ${hit.threshold}`;
  }
  return undefined;
}
