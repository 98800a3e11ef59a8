import { PromotionPhase, type PromotionProgress } from '../../common/contract';
import { promotionWorkflowId } from '../../common/registry';
import type { OptimizerActionResult } from '../../workflows/optimizer-action';
import { runsOf, tag, writeSiteTaskRuns, type SiteSpec } from '../support/fleet-fixture';
import { gflow } from '../support/cli';
import { connectStack, eventually, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { championScenario, executionsOf, recordChampionArtifacts, runCheck, writePolicyFile } from '../support/optimizer-fixture';
import { aliasesOf, recordBenchmark } from '../support/records';
import { restartTemporalServer } from '../support/temporal-restart';

/**
 * The whole loop with a guarded promotion, on the real stack with the stand-in executor: a check
 * retrains a site whose champion (v2) is below target; the new version waits for approval while
 * the control worker stops and the Temporal server restarts; `gflow approve` promotes it; a check
 * during the soak finds the action in flight (nothing started twice); a benchmark past the rule's
 * rollback threshold rolls it back on its own, and `gflow history` tells the whole story.
 */

jest.setTimeout(6 * 60_000);

const SITE: SiteSpec = { customer: `loop-${tag}`, region: 'north', plant: 'p1', zone: 'gate' };
const MODEL = `${SITE.customer}.north-p1.gate.ppe`;
const POLICY = `rules:
  - name: guarded-batch-up
    when: { metric: mAP50, comparison: "<", threshold: 0.95, scope: { customer: ${SITE.customer} } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion:
      gate: { metric: det.mAP50, min_improvement: -1 }
      approval: required
      approval_timeout: 30m
      soak: 10m
      soak_check_every: 1s
      rollback_when: [{ metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }]
`;

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let policyFile: string;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  const ids = await writeSiteTaskRuns(stack.mlflow, SITE, 'ppe', runsOf(SITE, 'ppe'));
  await recordChampionArtifacts(stack, ids[1], championScenario(SITE, 'ppe', { epochs: 2, batch_size: 8 }));
  policyFile = await writePolicyFile(POLICY);
});

afterAll(async () => {
  await stack?.close();
});

it('retrain → approval across a restart → promote → soak breach → automatic rollback, each step recorded', async () => {
  expect(await aliasesOf(stack, MODEL)).toEqual({ champion: '2', rollback: '1', candidate: '3' });
  const { actionId, promotionId, version } = await withFakeGpu(stack, { bundle }, async () => {
    const check = await runCheck(stack, policyFile, `loop-check-1-${tag}`);
    const started = check.decisions.filter((d) => d.decision === 'started');
    expect(started.map((d) => [d.rule, d.siteKey, d.value])).toEqual([['guarded-batch-up', `${SITE.customer}/north-p1/gate`, 0.82]]);
    // the retrain's new version (v4) waits for a person
    const id = promotionWorkflowId(MODEL, '4');
    const waiting = await eventually(async () => {
      const p = await stack.client.workflow.getHandle(id).query<PromotionProgress>('progress');
      return p.phase === PromotionPhase.awaitingApproval ? p : undefined;
    }, 120_000, 'the new version to wait for approval');
    expect(waiting.gate).toMatch(/^det\.mAP50=.* vs champion v2 0\.8000/);
    return { actionId: started[0].workflowId!, promotionId: id, version: '4' };
  });

  // workers gone and the server restarted while the approval is awaited: the wait and its deadline survive
  await restartTemporalServer(stack.settings);
  await withFakeGpu(stack, { bundle }, async () => {
    const status = await gflow(stack.settings, ['status', promotionId]);
    expect(status.stdout).toMatch(/phase awaiting_approval/);
    const approved = await gflow(stack.settings, ['approve', MODEL, version, '--by', 'carol', '--reason', 'reviewed the gate clips']);
    expect([approved.code, approved.stderr]).toEqual([0, '']);
    await eventually(async () => ((await stack.client.workflow.getHandle(promotionId).query<PromotionProgress>('progress')).phase === PromotionPhase.soaking ? true : undefined), 30_000, 'the soak');
    // registering v4 made it the candidate; promoting it leaves no candidate
    expect(await aliasesOf(stack, MODEL)).toEqual({ champion: version, rollback: '2' });

    // a check during the soak: the action is still open, so nothing starts again
    const during = await runCheck(stack, policyFile, `loop-check-2-${tag}`);
    expect(during.decisions.map((d) => [d.decision, d.workflowId])).toEqual([['in_flight', actionId]]);

    // the site's benchmark of the new champion is past the rule's rollback threshold
    await recordBenchmark(stack, MODEL, version, { 'sys.latency_ms_p95': 45 });
    const action = (await stack.client.workflow.getHandle(actionId).result()) as OptimizerActionResult;
    expect(action.promotions).toEqual([expect.objectContaining({ model: MODEL, version, phase: PromotionPhase.rolledBack, reason: 'sys.latency_ms_p95 45 > 30', verdict: { by: 'carol', reason: 'reviewed the gate clips', approved: true } })]);
  });
  expect(await aliasesOf(stack, MODEL)).toEqual({ champion: '2', candidate: version });
  expect([await executionsOf(stack, actionId), await executionsOf(stack, promotionId)]).toEqual([1, 1]);
  const moves = JSON.parse((await gflow(stack.settings, ['history', MODEL, '--json'])).stdout) as { op: string; by: string; reason: string; after: object }[];
  expect(moves.map((m) => [m.op, m.by, m.after])).toEqual([
    ['promote', 'user:carol', { champion: version, rollback: '2' }],
    ['rollback', `workflow:${promotionId}`, { champion: '2', candidate: version }],
  ]);
  expect(moves[0].reason).toMatch(/approved by carol: reviewed the gate clips$/);
  expect(moves[1].reason).toBe('soak breach: sys.latency_ms_p95 45 > 30');
});
