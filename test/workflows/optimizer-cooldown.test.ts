import { runsOf, tag, writeSiteTaskRuns, type SiteSpec } from '../support/fleet-fixture';
import { connectStack, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { actionIdsSince, actionRuns, championScenario, recordChampionArtifacts, runCheck, writePolicyFile } from '../support/optimizer-fixture';
import type { OptimizerResult } from '../../workflows/optimizer';

/**
 * A cooldown ends (issue 9 "Done when": "after the cooldown it fires again"), on the real stack
 * with the stand-in executor: one site task of this file's own customer whose champion (mAP50
 * 0.82, its benchmark's) is below the rule's 0.95, under a 20 s cooldown. A check starts the
 * action; once it has finished (so nothing is in flight), a check inside the cooldown gives
 * `cooldown` until the first check's time + 20 s; a check after that starts the action again,
 * under the next window's id. Every retrain of the stand-in scores below 0.95 too, so the site
 * stays a trigger whatever the action's candidate becomes.
 */

jest.setTimeout(180_000);

const COOLDOWN_MS = 20_000;
const RULE = 'below-target-batch-up';
const CUSTOMER = `cool-${tag}`;
const SITE: SiteSpec = { customer: CUSTOMER, region: 'east', plant: 'p2', zone: 'dock' };
const SITE_KEY = `${CUSTOMER}/east-p2/dock`;
const PREFIX = `gf/optimizer/${RULE}/${SITE_KEY}/ppe/`;

const POLICY = `rules:
  - name: ${RULE}
    when: { metric: mAP50, comparison: "<", threshold: 0.95, scope: { customer: ${CUSTOMER} } }
    action: { type: batch_up, factor: 2 }
    cooldown: ${COOLDOWN_MS / 1000}s
`;

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let policyFile: string;
let championRun: string;
const since = new Date().toISOString();

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  [, championRun] = await writeSiteTaskRuns(stack.mlflow, SITE, 'ppe', runsOf(SITE, 'ppe'));
  await recordChampionArtifacts(stack, championRun, championScenario(SITE, 'ppe', { epochs: 2, batch_size: 8 }));
  policyFile = await writePolicyFile(POLICY);
});

afterAll(async () => {
  await stack?.close();
});

const theDecision = (result: OptimizerResult) => {
  expect(result.decisions.map((d) => [d.rule, d.siteKey, d.task])).toEqual([[RULE, SITE_KEY, 'ppe']]);
  return result.decisions[0];
};
const windowOf = (workflowId: string) => Number(workflowId.slice(PREFIX.length));
/** When a check decided: its run's `optimizer.now` param. */
const checkTime = async (result: OptimizerResult) => Date.parse(paramsOf(await stack.mlflow.getRun(result.checkRunId))['optimizer.now']);

it('a check inside the cooldown gives `cooldown`; after the cooldown a check starts the action again under a new window id', async () => {
  await withFakeGpu(stack, { bundle }, async () => {
    const first = await runCheck(stack, policyFile, `optimizer-cooldown-${tag}-1`);
    const started = theDecision(first);
    expect([started.decision, started.value]).toEqual(['started', 0.82]);
    const firstId = started.workflowId!;
    expect(firstId.startsWith(PREFIX)).toBe(true);
    const firstAt = await checkTime(first);
    expect(windowOf(firstId)).toBe(Math.floor(firstAt / COOLDOWN_MS));
    // the action ends before the next check, so that check judges the cooldown, not an action in flight
    await stack.client.workflow.getHandle(firstId).result();
    const [retrain] = await actionRuns(stack, championRun, firstId);
    expect([paramsOf(retrain)['train.batch_size'], retrain.info.status]).toEqual(['16', 'FINISHED']);

    const inside = await runCheck(stack, policyFile, `optimizer-cooldown-${tag}-2`);
    const cooling = theDecision(inside);
    expect([cooling.decision, cooling.workflowId, cooling.cooldownUntil]).toEqual(['cooldown', null, firstAt + COOLDOWN_MS]);
    expect(tagsOf(await stack.mlflow.getRun(inside.checkRunId))['optimizer.started_ids']).toBe('-');

    const wait = firstAt + COOLDOWN_MS - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait + 500));
    const after = await runCheck(stack, policyFile, `optimizer-cooldown-${tag}-3`);
    const again = theDecision(after);
    expect(again.decision).toBe('started');
    const againId = again.workflowId!;
    expect(againId.startsWith(PREFIX)).toBe(true);
    expect(windowOf(againId)).toBe(Math.floor((await checkTime(after)) / COOLDOWN_MS));
    expect(windowOf(againId)).toBeGreaterThan(windowOf(firstId));
    await stack.client.workflow.getHandle(againId).result();

    // two actions, each started once and recorded once
    expect(await actionIdsSince(stack, since, PREFIX)).toEqual([firstId, againId].sort());
    expect((await actionRuns(stack, championRun, firstId)).length).toBe(1);
    expect((await actionRuns(stack, championRun, againId)).map((r) => r.info.status)).toEqual(['FINISHED']);
  });
});
