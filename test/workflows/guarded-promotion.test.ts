import { createTrackingActivities } from '../../activities/tracking/activities';
import { CONTROL_QUEUE, PromotionPhase, type PromotionProgress } from '../../common/contract';
import { promotionWorkflowId } from '../../common/registry';
import { createControlWorker } from '../../workers/control';
import type { guardedPromotion, GuardedPromotionInput } from '../../workflows/guarded-promotion';
import { gflow } from '../support/cli';
import { connectStack, eventually, withWorkers, workflowBundle, type Stack } from '../support/harness';
import { aliasesOf, recordBenchmark, siteTagsOf } from '../support/records';

/**
 * Guarded promotion on the real stack (Temporal, MLflow; no GPU): each test registers its own
 * model with champion v1 (mAP50 0.80) and candidate v2 (mAP50 0.85), then runs the
 * `guardedPromotion` workflow with short timeouts and answers it through the real `gflow`.
 */

jest.setTimeout(120_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
const suffix = `${Date.now().toString(36)}${process.pid.toString(36)}`;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/** A registered model `guard-{suffix}.ci-lab.{name}.ppe`: v1 champion, v2 candidate, each with a training run. */
async function registerModel(name: string): Promise<{ model: string; runIds: string[] }> {
  const tracking = createTrackingActivities({ mlflow: stack.mlflow });
  const model = `guard-${suffix}.ci-lab.${name}.ppe`;
  const experimentId = await stack.mlflow.ensureExperiment(`guard-${suffix}/ci-lab/${name}`);
  const runIds: string[] = [];
  for (const [i, map50] of [0.8, 0.85].entries()) {
    const info = await stack.mlflow.createRun({ experimentId, runName: `train-v${i + 1}`, tags: siteTagsOf(model) });
    await tracking.logBatch({ runId: info.run_id, metrics: { 'det.mAP50': map50 } });
    await stack.mlflow.updateRun(info.run_id, 'FINISHED');
    await tracking.registerModel({ name: model, runId: info.run_id, source: `${info.artifact_uri}/weights/best.pt`, alias: 'candidate' });
    runIds.push(info.run_id);
  }
  await stack.mlflow.setAlias(model, 'champion', '1');
  return { model, runIds };
}

const gate = (model: string) => ({ model, version: '2', promote: true, reason: 'det.mAP50=0.8500 vs champion v1 0.8000 (maximize: +0.0500, needs ≥ 0.0000)' });
const promotion = (fields: Partial<GuardedPromotionInput['promotion']>): GuardedPromotionInput['promotion'] => ({
  gate: { metric: 'det.mAP50', goal: 'maximize', min_improvement: 0, max_accuracy_drop: 0.01 },
  approval: 'none',
  approval_timeout: '72h',
  soak_check_every: '1h',
  ...fields,
});

/** Starts a guarded promotion of v2 and runs `fn` while the control worker polls. */
async function withPromotion<T>(input: GuardedPromotionInput, fn: (id: string) => Promise<T>): Promise<T> {
  const worker = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle });
  return withWorkers([worker], async () => {
    const id = promotionWorkflowId(input.model, input.version);
    await stack.client.workflow.start<typeof guardedPromotion>('guardedPromotion', { workflowId: id, taskQueue: CONTROL_QUEUE, args: [input] });
    return fn(id);
  });
}

const progressOf = (id: string) => stack.client.workflow.getHandle(id).query<PromotionProgress>('progress');
const untilPhase = (id: string, phase: PromotionPhase) => eventually(async () => ((await progressOf(id)).phase === phase ? true : undefined), 30_000, `phase ${phase}`);
const resultOf = (id: string) => stack.client.workflow.getHandle(id).result() as Promise<PromotionProgress>;

async function versionTags(model: string, version: string): Promise<Record<string, string>> {
  const v = await stack.mlflow.getModelVersion(model, version);
  return Object.fromEntries((v?.tags ?? []).map((t) => [t.key, t.value]));
}

it('approve: the version waits, `gflow approve` makes it champion, who and why are tagged and in `gflow history`', async () => {
  const { model } = await registerModel('approve');
  await withPromotion({ model, version: '2', gate: gate(model), promotion: promotion({ approval: 'required' }) }, async (id) => {
    await untilPhase(id, PromotionPhase.awaitingApproval);
    expect(await aliasesOf(stack, model)).toEqual({ champion: '1', candidate: '2' });
    expect((await versionTags(model, '2'))['promotion.state']).toBe('awaiting_approval');
    const status = await gflow(stack.settings, ['status', id]);
    expect(status.stdout).toMatch(/phase awaiting_approval/);
    expect(status.stdout).toMatch(/approval: waiting until \d{4}-/);

    const approved = await gflow(stack.settings, ['approve', model, 'v2', '--by', 'alice', '--reason', 'checked the dock camera clips']);
    expect(approved).toMatchObject({ code: 0 });
    expect(approved.stdout).toContain(`approved ${model} v2`);
    const result = await resultOf(id);
    expect([result.phase, result.verdict]).toEqual([PromotionPhase.promoted, { by: 'alice', reason: 'checked the dock camera clips', approved: true }]);

    // a second answer comes too late: refused by the validator, nothing recorded
    const again = await gflow(stack.settings, ['reject', model, '2', '--by', 'bob']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not waiting for approval|no guarded promotion/);
  });
  expect(await aliasesOf(stack, model)).toEqual({ champion: '2', rollback: '1' });
  expect(await versionTags(model, '2')).toMatchObject({ 'promotion.state': 'promoted', 'promotion.approved_by': 'alice', 'promotion.verdict_reason': 'checked the dock camera clips' });

  const history = await gflow(stack.settings, ['history', model, '--json']);
  const moves = JSON.parse(history.stdout) as { op: string; before: object; after: object; by: string; reason: string; status: string }[];
  expect(moves).toEqual([
    expect.objectContaining({ op: 'promote', before: { champion: '1', candidate: '2' }, after: { champion: '2', rollback: '1' }, by: 'user:alice', status: 'FINISHED' }),
  ]);
  expect(moves[0].reason).toContain('approved by alice: checked the dock camera clips');
  expect((await gflow(stack.settings, ['history', model])).stdout).toMatch(/promote +candidate v2→-, champion v1→v2, rollback -→v1 +FINISHED +user:alice/);
});

it('reject: the version stays candidate, the champion stays, who and why are tagged', async () => {
  const { model } = await registerModel('reject');
  await withPromotion({ model, version: '2', gate: gate(model), promotion: promotion({ approval: 'required' }) }, async (id) => {
    await untilPhase(id, PromotionPhase.awaitingApproval);
    const anonymous = await gflow(stack.settings, ['reject', model, '2', '--by', ' ']);
    expect([anonymous.code, anonymous.stderr]).toEqual([1, expect.stringContaining('by: who approves or rejects is required')]);
    expect((await gflow(stack.settings, ['reject', model, '2', '--by', 'bob', '--reason', 'night shots are missing'])).code).toBe(0);
    expect(await resultOf(id)).toMatchObject({ phase: PromotionPhase.rejected, reason: 'rejected by bob: night shots are missing' });
  });
  expect(await aliasesOf(stack, model)).toEqual({ champion: '1', candidate: '2' });
  expect(await versionTags(model, '2')).toMatchObject({ 'promotion.state': 'rejected', 'promotion.rejected_by': 'bob', 'promotion.verdict_reason': 'night shots are missing' });
  expect((await gflow(stack.settings, ['history', model])).stdout).toContain(`no alias moves recorded for ${model}`);
});

it('approval timeout: no answer in time, the promotion gives up and nothing moves', async () => {
  const { model } = await registerModel('timeout');
  const started = Date.now();
  await withPromotion({ model, version: '2', gate: gate(model), promotion: promotion({ approval: 'required', approval_timeout: '3s' }) }, async (id) => {
    expect(await resultOf(id)).toMatchObject({ phase: PromotionPhase.approvalTimeout, reason: 'no approval within 3s' });
  });
  expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  expect(await aliasesOf(stack, model)).toEqual({ champion: '1', candidate: '2' });
  expect(await versionTags(model, '2')).toMatchObject({ 'promotion.state': 'approval_timeout', 'promotion.reason': 'no approval within 3s' });
});

it('soak breach: the new champion’s benchmark crosses the threshold, the promotion rolls back on its own with the reason', async () => {
  const { model } = await registerModel('soak');
  const breach = { metric: 'sys.latency_ms_p95' as const, comparison: '>' as const, threshold: 30 };
  await withPromotion({ model, version: '2', gate: gate(model), promotion: promotion({ soak: '60s', soak_check_every: '1s', rollback_when: [breach] }) }, async (id) => {
    await untilPhase(id, PromotionPhase.soaking);
    expect(await aliasesOf(stack, model)).toEqual({ champion: '2', rollback: '1' });
    // a benchmark of the new champion inside the threshold: the soak goes on
    await recordBenchmark(stack, model, '2', { 'sys.latency_ms_p95': 20 });
    await eventually(async () => ((await progressOf(id)).soakSeen?.['sys.latency_ms_p95'] === 20 ? true : undefined), 30_000, 'the soak to read 20 ms');
    expect((await progressOf(id)).phase).toBe(PromotionPhase.soaking);
    // then one past it
    await recordBenchmark(stack, model, '2', { 'sys.latency_ms_p95': 45 });
    expect(await resultOf(id)).toMatchObject({ phase: PromotionPhase.rolledBack, reason: 'sys.latency_ms_p95 45 > 30' });
  });
  expect(await aliasesOf(stack, model)).toEqual({ champion: '1', candidate: '2' });
  expect(await versionTags(model, '2')).toMatchObject({ 'promotion.state': 'rolled_back', 'promotion.reason': 'soak breach: sys.latency_ms_p95 45 > 30' });
  const moves = JSON.parse((await gflow(stack.settings, ['history', model, '--json'])).stdout) as { op: string; by: string; reason: string; after: object }[];
  expect(moves.map((m) => [m.op, m.by, m.after])).toEqual([
    ['promote', `workflow:${promotionWorkflowId(model, '2')}`, { champion: '2', rollback: '1' }],
    ['rollback', `workflow:${promotionWorkflowId(model, '2')}`, { champion: '1', candidate: '2' }],
  ]);
  expect(moves[1].reason).toBe('soak breach: sys.latency_ms_p95 45 > 30');
});

it('a soak without a breach ends promoted; a refused gate moves nothing', async () => {
  const { model } = await registerModel('pass');
  await withPromotion({ model, version: '2', gate: gate(model), promotion: promotion({ soak: '3s', soak_check_every: '1s', rollback_when: [{ metric: 'det.mAP50', comparison: '<', threshold: 0.75 }] }) }, async (id) => {
    expect(await resultOf(id)).toMatchObject({ phase: PromotionPhase.promoted, soakSeen: { 'det.mAP50': 0.85 } });
  });
  expect(await aliasesOf(stack, model)).toEqual({ champion: '2', rollback: '1' });

  const refused = await registerModel('refused');
  const no = { ...gate(refused.model), promote: false, reason: 'det.mAP50=0.7000 vs champion v1 0.8000 (maximize: -0.1000, needs ≥ 0.0000)' };
  await withPromotion({ model: refused.model, version: '2', gate: no, promotion: promotion({ approval: 'required' }) }, async (id) => {
    expect(await resultOf(id)).toMatchObject({ phase: PromotionPhase.refused, reason: no.reason });
  });
  expect(await aliasesOf(stack, refused.model)).toEqual({ champion: '1', candidate: '2' });
  expect(await versionTags(refused.model, '2')).toMatchObject({ 'promotion.state': 'refused', 'promotion.gate': no.reason });
});
