import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FlagError, priorityFlag, withPriority } from '../../cli/scenario-overrides';
import { planAction } from '../../optimizer/action-scenario';
import { parsePolicyText } from '../../optimizer/policy-loader';
import { parseScenarioText } from '../../scenarios/loader';
import { DEFAULT_POOL_POLICY, fairnessKey, PoolPolicySchema, poolPriority, scenarioPriority } from '../../scenarios/pool-policy';
import { loadPoolPolicy, parsePoolPolicyText, PoolPolicyError } from '../../scenarios/pool-policy-loader';
import { checkScenario } from '../../scenarios/validate';
import { scenarioTags } from '../../scenarios/tracking-fields';

/** The GPU pool's priorities and fair shares: one Temporal `Priority` per start, built from the scenario and pool.yaml. */

const site = { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' };
const scenarioText = (extra = '') => `
name: weld-ppe
version: v3
type: train
site: { customer: acme, region: north, plant: p1, zone: weld }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8s.yaml, input_size: 640 }
dataset: { path: /data/weld/data.yaml, version: d7 }
training: { epochs: 5, batch_size: 16, learning_rate: 0.01 }
${extra}`;

it('urgent, normal and background are priority keys 1, 3 and 5; no level is normal; the fair share is the customer’s, weight 1 by default', () => {
  expect(poolPriority(site, 'urgent', DEFAULT_POOL_POLICY)).toEqual({ priorityKey: 1, fairnessKey: 'acme', fairnessWeight: 1 });
  expect(poolPriority(site, 'background', DEFAULT_POOL_POLICY).priorityKey).toBe(5);
  expect(poolPriority(site, undefined, DEFAULT_POOL_POLICY).priorityKey).toBe(3);
  expect(scenarioPriority(parseScenarioText(scenarioText('priority: urgent')), DEFAULT_POOL_POLICY).priorityKey).toBe(1);
});

it('weights come from the policy: by customer, or by site key with the customer’s weight as fallback, else default_weight', () => {
  const byCustomer = PoolPolicySchema.parse({ weights: { acme: 2 }, default_weight: 0.5 });
  expect(poolPriority(site, 'normal', byCustomer).fairnessWeight).toBe(2);
  expect(poolPriority({ ...site, customer: 'other' }, 'normal', byCustomer)).toEqual({ priorityKey: 3, fairnessKey: 'other', fairnessWeight: 0.5 });
  const bySite = PoolPolicySchema.parse({ fairness_by: 'site', weights: { 'acme/north-p1/weld': 3, acme: 2 } });
  expect(poolPriority(site, 'normal', bySite)).toEqual({ priorityKey: 3, fairnessKey: 'acme/north-p1/weld', fairnessWeight: 3 });
  expect(poolPriority({ ...site, zone: 'paint' }, 'normal', bySite)).toEqual({ priorityKey: 3, fairnessKey: 'acme/north-p1/paint', fairnessWeight: 2 });
});

it('a fairness key longer than Temporal’s 64 bytes is cut and suffixed with a hash: two long keys stay apart', () => {
  const long = { ...site, customer: 'c'.repeat(40), zone: 'z'.repeat(40) };
  const one = fairnessKey(long, 'site');
  const two = fairnessKey({ ...long, zone: `${'z'.repeat(39)}y` }, 'site');
  expect(one).toHaveLength(64);
  expect(two).toHaveLength(64);
  expect(one).not.toBe(two);
  expect(fairnessKey(site, 'site')).toBe('acme/north-p1/weld');
});

it('a bad pool.yaml is refused naming the field and its line', () => {
  expect(() => parsePoolPolicyText('weights:\n  acme: 0\n', 'pool.yaml')).toThrow(/pool\.yaml: invalid pool policy[\s\S]*weights\.acme: expected a weight of at least 0\.001.*\(line 2\)/);
  expect(() => parsePoolPolicyText('fairness_by: team\n', 'pool.yaml')).toThrow(/fairness_by: .*"customer"\|"site"|fairness_by:.*customer.*site/);
  expect(() => parsePoolPolicyText('weight: { acme: 2 }\n', 'pool.yaml')).toThrow(PoolPolicyError);
  expect(parsePoolPolicyText('weights: { acme: 2 }\n')).toEqual({ fairness_by: 'customer', default_weight: 1, weights: { acme: 2 } });
});

it('no pool.yaml: equal shares by customer; a GF_POOL_FILE that is not there is an error, not equal shares', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-pool-'));
  expect(await loadPoolPolicy({ file: path.join(dir, 'pool.yaml'), required: false })).toEqual(DEFAULT_POOL_POLICY);
  await expect(loadPoolPolicy({ file: path.join(dir, 'missing.yaml'), required: true })).rejects.toThrow(/missing\.yaml: invalid pool policy[\s\S]*cannot read file \(ENOENT\)/);
  await writeFile(path.join(dir, 'pool.yaml'), 'weights: { acme: 4 }\n');
  expect((await loadPoolPolicy({ file: path.join(dir, 'pool.yaml'), required: false })).weights).toEqual({ acme: 4 });
});

it('--priority names the levels when it is not one; it wins over the scenario’s priority:', () => {
  expect(() => priorityFlag('asap')).toThrow(FlagError);
  expect(() => priorityFlag('asap')).toThrow('--priority: expected urgent, normal, background, got "asap"');
  const s = parseScenarioText(scenarioText('priority: background'));
  expect(withPriority(s, 'urgent').priority).toBe('urgent');
  expect(withPriority(s, undefined).priority).toBe('background');
});

it('a scenario’s priority: is one of the levels, and is recorded as the exp.priority tag', () => {
  const checked = checkScenario({ ...parseScenarioText(scenarioText()), priority: 'high' });
  expect(checked.ok).toBe(false);
  if (!checked.ok) expect(checked.issues.map((i) => i.path)).toEqual(['priority']);
  expect(scenarioTags(parseScenarioText(scenarioText('priority: urgent')))['exp.priority']).toBe('urgent');
  expect(scenarioTags(parseScenarioText(scenarioText()))).not.toHaveProperty('exp.priority');
});

it('the optimizer’s actions run at its policy’s priority (background by default; a rule may name its own), not the champion’s', () => {
  const policy = parsePolicyText(`
rules:
  - name: retrain
    when: { metric: mAP50, comparison: "<", threshold: 0.75 }
    action: { type: batch_up, factor: 2 }
    cooldown: 48h
  - name: urgent-retrain
    when: { metric: mAP50, comparison: "<", threshold: 0.5 }
    action: { type: batch_up, factor: 2 }
    cooldown: 48h
    priority: urgent
`);
  expect(policy.priority).toBe('background');
  expect(policy.rules.map((r) => r.priority)).toEqual([undefined, 'urgent']);
  const base = parseScenarioText(scenarioText('priority: urgent'));
  const planned = planAction(base, policy.rules[0], { workflowId: 'gf/optimizer/retrain/acme/north-p1/weld/ppe/1', checkRunId: 'c', championRunId: 'r', priority: policy.priority });
  expect(planned.scenario.priority).toBe('background');
});
