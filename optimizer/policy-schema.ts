import { z } from 'zod';
import { FleetMetricKeySchema } from '../fleet/records';
import { resolveMetricAlias } from '../scenarios/metric-keys';
import { checkSweepParameters, PriorityLevel, PromotionSchema, QuantVariantSchema, SweepParametersSchema, SweepSchema, TaskType } from '../scenarios/schema';

/**
 * The optimizer policy (`optimizer.yaml`): the single source of its types (`z.infer`). Each rule
 * watches one fleet metric of each site task's champion and, when it crosses the threshold,
 * starts one action for that site task, at most once per cooldown. Pure (no Node built-ins) so
 * the coming `optimizer` workflow can validate its own input with it.
 *
 * ```yaml
 * max_concurrent: 2
 * dry_run: false
 * priority: background            # the GPU pool priority of its actions (a rule may name its own)
 * schedule: { every: 6h }
 * rules:
 *   - name: low-accuracy-retrain
 *     when: { metric: det.mAP50, comparison: "<", threshold: 0.75, scope: { customer: acme, site: "acme/*-p1/*" } }
 *     action: { type: sweep_retrain, parameters: { learning_rate: [0.001, 0.01] } }
 *     cooldown: 48h
 *     promotion: { approval: required, soak: 24h }
 * ```
 * (`">"` must be quoted: a bare `>` starts a folded YAML text.)
 */

export const Comparison = { below: '<', above: '>' } as const;
export type Comparison = (typeof Comparison)[keyof typeof Comparison];

export const ActionType = { sweepRetrain: 'sweep_retrain', quantize: 'quantize', batchUp: 'batch_up' } as const;
export type ActionType = (typeof ActionType)[keyof typeof ActionType];

export const Approval = { required: 'required', none: 'none' } as const;
export type Approval = (typeof Approval)[keyof typeof Approval];

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^([1-9]\d{0,5})([smhd])$/;

/** `30s`, `30m`, `24h`, `7d`: one whole number and one unit, the form Temporal's schedule intervals also take. */
export const DurationSchema = z.string().regex(DURATION, { error: (iss) => `expected a duration such as 30m, 24h or 7d, got ${JSON.stringify(iss.input)}` });

/** Milliseconds of a duration DurationSchema accepted. */
export function durationMs(duration: string): number {
  const match = DURATION.exec(duration);
  if (!match) throw new RangeError(`not a duration: ${JSON.stringify(duration)}`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Rule names go into child workflow ids and MLflow tags: the scenario's slug form. */
const RuleName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, { error: (iss) => `expected a rule name of lowercase letters, digits, '-' or '_', got ${JSON.stringify(iss.input)}` });

/** Site keys are `{customer}/{region}-{plant}/{zone}`; `*` and `?` stay inside one part, `**` crosses `/`. */
const SiteGlob = z.string().regex(/^[a-z0-9_*?/-]+$/, { error: (iss) => `expected a site glob such as acme/*/weld or acme/**, got ${JSON.stringify(iss.input)}` });

/** Which site tasks a rule covers; every field left out matches all. */
export const ScopeSchema = z.strictObject({
  customer: z.string().min(1).optional(),
  task: z.enum(TaskType).optional(),
  site: SiteGlob.optional(),
});
export type Scope = z.infer<typeof ScopeSchema>;

export const WhenSchema = z.strictObject({
  /** A fleet metric key (scenarios' short `mAP50` accepted); read from the site task's champion. */
  metric: z.string().transform(resolveMetricAlias).pipe(FleetMetricKeySchema),
  comparison: z.enum(Comparison),
  threshold: z.number(),
  scope: ScopeSchema.prefault({}),
});

/** A sweep over the champion's own scenario: the scenario's `sweep.parameters` form, checked the same way. */
const SweepRetrainSchema = z
  .strictObject({
    type: z.literal(ActionType.sweepRetrain),
    parameters: SweepParametersSchema,
    ...SweepSchema.in.pick({ strategy: true, max_runs: true, parallel: true }).shape,
  })
  .superRefine((action, ctx) => checkSweepParameters(action.parameters, undefined, ctx, ['parameters']));

/** Export and benchmark the champion in these variants (the scenario's quantization variants). */
const QuantizeSchema = z.strictObject({
  type: z.literal(ActionType.quantize),
  variants: z.array(QuantVariantSchema).min(1),
});

/** Retrain the champion's scenario with `training.batch_size` × factor. */
const BatchUpSchema = z.strictObject({
  type: z.literal(ActionType.batchUp),
  factor: z.int().min(2).max(16),
});

/** `type` is checked first, so an unknown one is named with the types there are (a union alone only says it matched none). */
export const ActionSchema = z.looseObject({ type: z.enum(ActionType) }).pipe(z.discriminatedUnion('type', [SweepRetrainSchema, QuantizeSchema, BatchUpSchema]));
export type Action = z.infer<typeof ActionSchema>;

/** A fleet metric of the new champion past a threshold: during the soak, a breach rolls the promotion back. */
export const BreachSchema = z.strictObject({
  metric: z.string().transform(resolveMetricAlias).pipe(FleetMetricKeySchema),
  comparison: z.enum(Comparison),
  threshold: z.number(),
});
export type Breach = z.infer<typeof BreachSchema>;

/**
 * What the action's new candidate must pass before it becomes champion, and stay champion: the
 * gate, then (optionally) a person's approval, then (optionally) a soak during which the new
 * champion's fleet metrics are read every `soak_check_every`; a breach of `rollback_when`
 * (default: the rule's own `when`, i.e. the problem the action was to fix is back) rolls it back.
 */
export const RulePromotionSchema = z
  .strictObject({
    /** The scenario's promotion gate (metric, min_improvement, max_accuracy_drop). */
    gate: PromotionSchema.prefault({}),
    approval: z.enum(Approval).default(Approval.none),
    /** How long an approval is waited for; then the promotion gives up (the candidate stays candidate). */
    approval_timeout: DurationSchema.default('72h'),
    /** How long the new champion's fleet metrics are watched before the promotion is final. */
    soak: DurationSchema.optional(),
    /** How often the soak reads the fleet metrics (at most the soak itself). */
    soak_check_every: DurationSchema.default('1h'),
    /** Breaches that roll back during the soak; default: the rule's `when`. */
    rollback_when: z.array(BreachSchema).min(1).optional(),
  })
  .superRefine((promotion, ctx) => {
    if (promotion.soak === undefined && promotion.rollback_when !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['rollback_when'], message: 'rollback_when is read during a soak: set soak too (e.g. soak: 24h)' });
    }
  });
export type RulePromotion = z.infer<typeof RulePromotionSchema>;

export const OptimizerRuleSchema = z.strictObject({
  name: RuleName,
  when: WhenSchema,
  action: ActionSchema,
  /** Per rule × site × task: after an action starts, the next one waits this long. */
  cooldown: DurationSchema,
  promotion: RulePromotionSchema.prefault({}),
  /** The GPU pool priority of this rule's actions (default: the policy's `priority`). */
  priority: z.enum(PriorityLevel).optional(),
});
export type OptimizerRule = z.infer<typeof OptimizerRuleSchema>;

export const OptimizerPolicySchema = z.strictObject({
  /** Actions running at once, across all rules. */
  max_concurrent: z.int().min(1).default(2),
  /** Decide and record, start nothing. */
  dry_run: z.boolean().default(false),
  /** The GPU pool priority its actions run at (their fair share is their site's, pool.yaml): below people's work by default. */
  priority: z.enum(PriorityLevel).default(PriorityLevel.background),
  schedule: z.strictObject({ every: DurationSchema.default('6h') }).prefault({}),
  rules: z
    .array(OptimizerRuleSchema)
    .min(1)
    .superRefine((rules, ctx) => {
      rules.forEach((rule, i) => {
        if (rules.findIndex((other) => other.name === rule.name) < i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `${JSON.stringify(rule.name)} is the name of another rule` });
      });
    }),
});
export type OptimizerPolicy = z.infer<typeof OptimizerPolicySchema>;
/** What a policy file may contain (defaults not yet applied). */
export type OptimizerPolicyInput = z.input<typeof OptimizerPolicySchema>;
