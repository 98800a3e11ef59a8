import { z } from 'zod';
import type { Priority } from '@temporalio/common';
import { experimentName } from './naming';
import { PriorityLevel, type Scenario } from './schema';

/**
 * The GPU pool's sharing policy (`pool.yaml`) and the one place a Temporal `Priority` is built.
 * Pure (no Node built-ins): the CLI, the optimizer's activities and the benches build the
 * priority of what they start here; children and activities inherit it from the workflow
 * (Temporal copies a parent's priority to what it schedules).
 *
 * On the GPU pool's task queue Temporal dispatches strictly by priority key (lower first), and
 * among the backlogged tasks of one key by weighted round-robin over fairness keys: a customer
 * (or site) with weight 2 gets two jobs started for each one of a customer with weight 1,
 * whatever each has queued. It counts tasks, not GPU-seconds, and needs the server's
 * `matching.enableFairness` (the dev stack turns it on).
 *
 * ```yaml
 * fairness_by: customer      # or site: each site zone its own share
 * default_weight: 1
 * weights: { donghwa-entec: 2, sampyo: 1 }
 * ```
 */

/** `--priority` and a scenario's `priority:` → Temporal priority key (1 first, 5 last; Temporal's default is 3). */
export const PRIORITY_KEYS: Readonly<Record<PriorityLevel, number>> = { urgent: 1, normal: 3, background: 5 };

/** What a fairness share belongs to: each customer (all its sites together), or each site zone. */
export const FairnessBy = { customer: 'customer', site: 'site' } as const;
export type FairnessBy = (typeof FairnessBy)[keyof typeof FairnessBy];

/** Temporal clamps weights to this range; a weight outside it is refused rather than silently changed. */
const Weight = z.number().min(0.001, { error: 'expected a weight of at least 0.001 (Temporal’s smallest)' }).max(1000, { error: 'expected a weight of at most 1000 (Temporal’s largest)' });

export const PoolPolicySchema = z.strictObject({
  fairness_by: z.enum(FairnessBy).default(FairnessBy.customer),
  /** The weight of every customer (or site) that `weights` does not name: equal shares by default. */
  default_weight: Weight.default(1),
  /**
   * Weights by customer, or with `fairness_by: site` by site key `{customer}/{region}-{plant}/{zone}`
   * (a site not named there takes its customer's weight, if named).
   */
  weights: z.record(z.string().min(1), Weight).default({}),
});
export type PoolPolicy = z.infer<typeof PoolPolicySchema>;
export type PoolPolicyInput = z.input<typeof PoolPolicySchema>;

/** Equal shares by customer: the policy when there is no pool.yaml. */
export const DEFAULT_POOL_POLICY: PoolPolicy = PoolPolicySchema.parse({});

/** Temporal's limit on a fairness key. */
const MAX_FAIRNESS_KEY_BYTES = 64;

/** The fairness key of a site: its customer, or its site key; a key over 64 bytes is cut and suffixed with a hash of the whole, so two long keys stay apart. */
export function fairnessKey(site: Scenario['site'], by: FairnessBy): string {
  const key = by === FairnessBy.site ? experimentName({ site }) : site.customer;
  if (new TextEncoder().encode(key).length <= MAX_FAIRNESS_KEY_BYTES) return key;
  // slugs are ASCII: characters are bytes
  return `${key.slice(0, MAX_FAIRNESS_KEY_BYTES - 9)}~${fnv1a(key)}`;
}

/** The weight the policy gives a site's share. */
export function fairnessWeight(site: Scenario['site'], policy: PoolPolicy): number {
  const { weights } = policy;
  const byKey = (key: string) => (Object.hasOwn(weights, key) ? weights[key] : undefined);
  const own = policy.fairness_by === FairnessBy.site ? byKey(experimentName({ site })) : undefined;
  return own ?? byKey(site.customer) ?? policy.default_weight;
}

/**
 * The Temporal priority of work for `site` at `level` (default normal): set on every workflow
 * the product starts, and on an optimizer action's child (it is another site's work than the
 * optimizer's own).
 */
export function poolPriority(site: Scenario['site'], level: PriorityLevel | undefined, policy: PoolPolicy): Priority {
  return { priorityKey: PRIORITY_KEYS[level ?? PriorityLevel.normal], fairnessKey: fairnessKey(site, policy.fairness_by), fairnessWeight: fairnessWeight(site, policy) };
}

/** A scenario's priority: its own `priority:` level, its site's share. */
export function scenarioPriority(scenario: Pick<Scenario, 'site' | 'priority'>, policy: PoolPolicy): Priority {
  return poolPriority(scenario.site, scenario.priority, policy);
}

/** The optimizer's scheduled checks: control-queue work at normal priority, a share of their own rather than a customer's (their actions carry their site's, see poolPriority). */
export const OPTIMIZER_CHECK_PRIORITY: Priority = { priorityKey: PRIORITY_KEYS.normal, fairnessKey: 'gf-optimizer' };

/** 32-bit FNV-1a of a string, 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
