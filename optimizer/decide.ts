import { Alias } from '../common/registry';
import type { FleetMetricKey, FleetSnapshot, Site } from '../fleet/records';
import { siteTasks, versionSummaries } from '../fleet/select';
import { Comparison, durationMs, type ActionType, type OptimizerPolicy } from './policy-schema';
import { inScope } from './scope';

/**
 * One optimizer check, decided: every rule × site task in the rule's scope gets one decision.
 * Pure and deterministic (the snapshot, the policy, the durable state and `now` in; decisions
 * out), so the `optimizer` workflow can call it and `gflow optimize check` shows the same answer.
 *
 * For each pair, in policy order then site then task: the value is the rule's metric of the
 * site task's champion (the trained model's, with its latest benchmark's numbers, as
 * `gflow metrics summary` shows it); absent (no champion, or a metric never measured, such as
 * `sys.gpu_util_pct` on CPU hosts) → `no_metric`; not past the threshold → `no_trigger`; an action
 * of this rule × site × task still running → `in_flight`; started less than a cooldown ago →
 * `cooldown`; already `max_concurrent` actions running or started in this check →
 * `skipped_max_concurrent`; else `started` with the child workflow id
 * `gf/optimizer/{rule}/{site}/{task}/{window}`, window = floor(now / cooldown): one id per
 * cooldown window, so a repeated or retried check can never start the same action twice.
 */

export const Decision = {
  started: 'started',
  cooldown: 'cooldown',
  inFlight: 'in_flight',
  noTrigger: 'no_trigger',
  noMetric: 'no_metric',
  skippedMaxConcurrent: 'skipped_max_concurrent',
  /** Never decided here: the workflow's outcome for a `started` action it could not start (no base scenario); the next check tries again. */
  failed: 'failed',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

/** What the optimizer must remember between checks (the workflow keeps it durable). */
export interface OptimizerState {
  /** Action key (`{rule}/{site}/{task}`, see actionKey) → when its last action started, epoch ms. */
  cooldowns: Record<string, number>;
  /** Child workflow ids of actions started and not yet closed. */
  inFlight: string[];
}

export const NO_STATE: OptimizerState = { cooldowns: {}, inFlight: [] };

export interface RuleDecision {
  rule: string;
  siteKey: string;
  site: Site;
  task: string;
  metric: FleetMetricKey;
  comparison: Comparison;
  threshold: number;
  /** The champion's value of the metric; null when it has none (or there is no champion). */
  value: number | null;
  /** The champion judged, null when the site task has none. */
  champion: { name: string; version: string } | null;
  decision: Decision;
  action: ActionType;
  /** `started`: the child to start; `in_flight`: the one still running; else null. */
  workflowId: string | null;
  /** `cooldown`: when the next action may start (epoch ms); else null. */
  cooldownUntil: number | null;
}

const ID_PREFIX = 'gf/optimizer/';

/** `{rule}/{site}/{task}`: what a cooldown is kept per. */
export function actionKey(rule: string, siteKey: string, task: string): string {
  return `${rule}/${siteKey}/${task}`;
}

/** `gf/optimizer/{rule}/{site}/{task}/{window}`, window = floor(now / cooldown). */
export function actionWorkflowId(key: string, now: number, cooldownMs: number): string {
  return `${ID_PREFIX}${key}/${Math.floor(now / cooldownMs)}`;
}

export function decide(snapshot: FleetSnapshot, policy: OptimizerPolicy, state: OptimizerState, now: number): RuleDecision[] {
  const describe = versionSummaries(snapshot);
  const targets = siteTasks(snapshot).map((st) => {
    const champion = st.models.find((m) => m.variant === null && m.aliases.includes(Alias.champion));
    return { ...st, champion: champion ? describe(champion) : undefined };
  });
  let running = state.inFlight.length;
  const out: RuleDecision[] = [];
  for (const rule of policy.rules) {
    const cooldownMs = durationMs(rule.cooldown);
    for (const target of targets.filter((t) => inScope(rule.when.scope, t))) {
      const key = actionKey(rule.name, target.siteKey, target.task);
      const value = target.champion?.metrics[rule.when.metric];
      const last = state.cooldowns[key];
      const inFlight = state.inFlight.find((id) => id.startsWith(`${ID_PREFIX}${key}/`));
      const decided = (decision: Decision, extra: { workflowId?: string; cooldownUntil?: number } = {}) =>
        out.push({
          rule: rule.name,
          siteKey: target.siteKey,
          site: target.site,
          task: target.task,
          metric: rule.when.metric,
          comparison: rule.when.comparison,
          threshold: rule.when.threshold,
          value: value ?? null,
          champion: target.champion ? { name: target.champion.name, version: target.champion.version } : null,
          decision,
          action: rule.action.type,
          workflowId: extra.workflowId ?? null,
          cooldownUntil: extra.cooldownUntil ?? null,
        });
      if (value === undefined) decided(Decision.noMetric);
      else if (!crosses(rule.when, value)) decided(Decision.noTrigger);
      else if (inFlight !== undefined) decided(Decision.inFlight, { workflowId: inFlight });
      else if (last !== undefined && now < last + cooldownMs) decided(Decision.cooldown, { cooldownUntil: last + cooldownMs });
      else if (running >= policy.max_concurrent) decided(Decision.skippedMaxConcurrent);
      else {
        running += 1;
        decided(Decision.started, { workflowId: actionWorkflowId(key, now, cooldownMs) });
      }
    }
  }
  return out;
}

/** Whether `value` is past a condition's threshold (a rule's `when`, a soak's `rollback_when`). */
export function crosses(condition: { comparison: Comparison; threshold: number }, value: number): boolean {
  return condition.comparison === Comparison.below ? value < condition.threshold : value > condition.threshold;
}
