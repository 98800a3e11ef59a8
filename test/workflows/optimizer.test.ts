import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ActivityFailure, WorkflowFailedError } from '@temporalio/client';
import { CONTROL_QUEUE, OPTIMIZER_SCHEDULE_ID } from '../../common/contract';
import { OPTIMIZER_CHECK_PRIORITY } from '../../scenarios/pool-policy';
import type { optimizer, OptimizerResult } from '../../workflows/optimizer';
import type { OptimizerActionResult } from '../../workflows/optimizer-action';
import type { SingleRunResult } from '../../workflows/single-run';
import type { SweepResult } from '../../workflows/sweep';
import { DOCK, PAINT, SITES, tag, writeTestFleet } from '../support/fleet-fixture';
import { childRuns, connectStack, eventually, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { actionIdsSince, championScenario, recordChampionArtifacts, runCheck, workflowIdsSince, writePolicyFile } from '../support/optimizer-fixture';
import { aliasesOf, artifactText } from '../support/records';
import { gflowPrinted } from '../support/cli';

/**
 * The `optimizer` workflow and its Temporal Schedule on the real stack, over the fleet of
 * test/support/fleet-fixture.ts (dock ppe's champion v2 at mAP50 0.72, paint fall's at latency
 * p95 45 ms; every other champion inside the thresholds), with the stand-in GPU executors. The
 * two champions' training runs get the scenario and weights a real training would have recorded.
 */

jest.setTimeout(180_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let policyFile: string;
/** The champions' (v2's) training runs. */
const championRun: Record<'dock' | 'paint', string> = { dock: '', paint: '' };
/** When this file began: workflows listed from then on are this file's. */
const since = new Date().toISOString();

const POLICY = `max_concurrent: 2
rules:
  - name: low-accuracy-retrain
    when: { metric: mAP50, comparison: "<", threshold: 0.75, scope: { site: "*-${tag}/**" } }
    action: { type: sweep_retrain, parameters: { learning_rate: [0.001, 0.01] }, max_runs: 2, parallel: 2 }
    cooldown: 48h
    promotion: { gate: { metric: det.mAP50 } }
  - name: high-latency-quantize
    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30, scope: { site: "*-${tag}/**" } }
    action: { type: quantize, variants: [{ backend: openvino, precision: int8 }] }
    cooldown: 24h
  - name: low-gpu-util-batch-up
    when: { metric: sys.gpu_util_pct, comparison: "<", threshold: 50, scope: { site: "*-${tag}/**" } }
    action: { type: batch_up, factor: 2 }
    cooldown: 7d
`;

const gflow = (...args: string[]) => gflowPrinted(stack.settings, ...args);

/** Ids of workflows matching a visibility query, started since this file began. */
const workflowIds = (query: string) => workflowIdsSince(stack, query, since);

/** Top-level actions (not a sweep's trials). */
const actionIds = () => actionIdsSince(stack, since);

const check = (n: number) => runCheck(stack, policyFile, `optimizer-test-${tag}-${n}`);

/** A rule's decisions for site tasks past its threshold (kiln ppe, without a champion, is `no_metric` under every rule). */
const ofRule = (result: OptimizerResult, rule: string) => result.decisions.filter((d) => d.rule === rule && d.decision !== 'no_trigger' && d.decision !== 'no_metric');

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  const fleet = await writeTestFleet(stack.mlflow);
  championRun.dock = fleet.written.get(`${DOCK} ppe`)![1];
  championRun.paint = fleet.written.get(`${PAINT} fall`)![1];
  for (const [runId, site, task] of [[championRun.dock, SITES[2], 'ppe'], [championRun.paint, SITES[1], 'fall']] as const) {
    await recordChampionArtifacts(stack, runId, championScenario(site, task));
  }
  policyFile = await writePolicyFile(POLICY);
});

afterAll(async () => {
  await stack?.close();
});

it('one check starts exactly one sweep retrain and one quantize, each from the champion’s scenario and tagged with its rule and check', async () => {
  await withFakeGpu(stack, { bundle }, async () => {
    const result = await check(1);
    const started = result.decisions.filter((d) => d.decision === 'started');
    expect(started.map((d) => [d.rule, d.siteKey, d.task, d.value])).toEqual([
      ['low-accuracy-retrain', DOCK, 'ppe', 0.72],
      ['high-latency-quantize', PAINT, 'fall', 45],
    ]);
    // 6 sites × 2 tasks × 3 rules; kiln ppe has no champion
    expect(result.decisions).toHaveLength(36);
    expect(result.decisions.filter((d) => d.decision === 'no_metric')).toHaveLength(3);
    expect(await actionIds()).toEqual([started[0].workflowId, started[1].workflowId].sort());

    // each action runs as an optimizerAction: the existing workflow as its `/action` child, then each candidate's guarded promotion
    const [retrain, quantize] = started.map((d) => stack.client.workflow.getHandle(d.workflowId!));
    expect([(await retrain.describe()).type, (await quantize.describe()).type]).toEqual(['optimizerAction', 'optimizerAction']);
    const [retrained, quantizedAction] = [(await retrain.result()) as OptimizerActionResult, (await quantize.result()) as OptimizerActionResult];
    const [retrainChild, quantizeChild] = [retrained, quantizedAction].map((a) => stack.client.workflow.getHandle(a.actionWorkflowId));
    expect([(await retrainChild.describe()).type, (await quantizeChild.describe()).type]).toEqual(['sweep', 'singleRun']);
    // the policy names no priority: its actions and their children run at background (5), each in its own site's customer's share
    for (const [h, site] of [[retrain, DOCK], [retrainChild, DOCK], [quantizeChild, PAINT]] as const) {
      expect((await h.describe()).priority).toEqual({ priorityKey: 5, fairnessKey: site.split('/')[0], fairnessWeight: 1 });
    }
    const swept = (await retrainChild.result()) as SweepResult;
    const quantized = (await quantizeChild.result()) as SingleRunResult;
    // one guarded promotion per new candidate, each ended by its gate and rule (no approval, no soak here), its state tagged on the version
    expect(retrained.promotions.map((p) => [p.model, p.version])).toEqual([[swept.model!.name, swept.model!.version]]);
    expect(quantizedAction.promotions.map((p) => [p.model, p.version])).toEqual(quantized.variants!.map((v) => [v.model.name, v.model.version]));
    for (const p of [...retrained.promotions, ...quantizedAction.promotions]) {
      expect(['promoted', 'refused']).toContain(p.phase);
      const version = await stack.mlflow.getModelVersion(p.model, p.version);
      expect(Object.fromEntries((version?.tags ?? []).map((t) => [t.key, t.value]))).toMatchObject({ 'promotion.state': p.phase, 'promotion.gate': p.gate });
      expect((await aliasesOf(stack, p.model)).champion === p.version).toBe(p.phase === 'promoted');
    }

    // the sweep: the champion's scenario (yolov8s, 3 epochs, batch 8) with the rule's sweep block and a new version
    const window = started[0].workflowId!.split('/').pop();
    const sweepRun = await stack.mlflow.getRun(swept.runId);
    expect([swept.total, swept.done]).toEqual([2, 2]);
    expect(paramsOf(sweepRun)).toMatchObject({ 'model.architecture': 'yolov8s.yaml', 'train.epochs': '3', 'train.batch_size': '8', 'sweep.parameters': '{"learning_rate":[0.001,0.01]}', 'sweep.max_runs': '2' });
    expect(tagsOf(sweepRun)).toMatchObject({ 'exp.version': `opt_low_accuracy_retrain_${window}`, 'sweep.metric': 'det.mAP50', 'optimizer.rule': 'low-accuracy-retrain', 'optimizer.check_run_id': result.checkRunId });
    const trials = await childRuns(stack, swept.runId);
    expect(trials.map((r) => [tagsOf(r)['optimizer.rule'], tagsOf(r)['optimizer.check_run_id']])).toEqual([
      ['low-accuracy-retrain', result.checkRunId],
      ['low-accuracy-retrain', result.checkRunId],
    ]);

    // the quantize: the champion's own weights exported to OpenVINO int8, as a quant run and its variant run
    const quantRun = await stack.mlflow.getRun(quantized.runId);
    expect(paramsOf(quantRun)).toMatchObject({ 'quant.variants': 'openvino_int8', 'model.architecture': 'yolov8s.yaml' });
    expect(tagsOf(quantRun)).toMatchObject({ 'exp.type': 'quant', 'optimizer.rule': 'high-latency-quantize', 'optimizer.check_run_id': result.checkRunId });
    const [variant] = await childRuns(stack, quantized.runId);
    expect(tagsOf(variant)).toMatchObject({ 'source.run_id': championRun.paint, 'quant.backend': 'openvino', 'optimizer.rule': 'high-latency-quantize', 'optimizer.check_run_id': result.checkRunId });

    // the check's own run: counts, the ids it started, every decision in decisions.json
    const checkRun = await stack.mlflow.getRun(result.checkRunId);
    const experiment = await stack.mlflow.getExperimentByName('optimizer');
    expect(checkRun.info.experiment_id).toBe(experiment!.experiment_id);
    expect(checkRun.info.status).toBe('FINISHED');
    const metrics = Object.fromEntries((checkRun.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect([metrics['decisions.started'], metrics['decisions.no_trigger'], metrics['decisions.no_metric'], metrics['decisions.cooldown']]).toEqual([2, 31, 3, 0]);
    expect(tagsOf(checkRun)['optimizer.started_ids']).toBe(`${started[0].workflowId},${started[1].workflowId}`);
    const recorded = JSON.parse(await artifactText(stack.settings, checkRun.info.artifact_uri, 'decisions.json')) as { decisions: { rule: string; decision: string; value: number | null; workflowId: string | null }[] };
    expect(recorded.decisions).toHaveLength(36);
    expect(recorded.decisions.filter((d) => d.decision === 'started').map((d) => [d.rule, d.value, d.workflowId])).toEqual([
      ['low-accuracy-retrain', 0.72, started[0].workflowId],
      ['high-latency-quantize', 45, started[1].workflowId],
    ]);
  });
});

it('a second check inside the cooldown starts nothing: both actions are `cooldown`', async () => {
  await withFakeGpu(stack, { bundle }, async () => {
    const result = await check(2);
    expect(result.decisions.filter((d) => d.decision === 'started')).toEqual([]);
    expect(ofRule(result, 'low-accuracy-retrain').map((d) => [d.siteKey, d.decision])).toEqual([[DOCK, 'cooldown']]);
    expect(ofRule(result, 'high-latency-quantize').map((d) => [d.siteKey, d.decision])).toEqual([[PAINT, 'cooldown']]);
    expect(await actionIds()).toHaveLength(2);
    // `gflow optimize check` reads the same durable state
    const shown = JSON.parse(await gflow('optimize', 'check', '--policy', policyFile, '--json')) as OptimizerResult;
    expect(shown.decisions.filter((d) => d.decision === 'cooldown').map((d) => [d.rule, d.siteKey])).toEqual([
      ['low-accuracy-retrain', DOCK],
      ['high-latency-quantize', PAINT],
    ]);
  });
});

it('the schedule skips a check while one runs, triggers checks on its interval, and is what temporal schedule describe shows', async () => {
  // no worker yet: a triggered check stays running, so the second trigger overlaps it
  expect(await gflow('optimize', 'schedule', '--every', '1h', '--policy', policyFile)).toMatch(new RegExp(`^schedule ${OPTIMIZER_SCHEDULE_ID} (created|updated): a check every 1h with ${policyFile} \\(overlap: skip\\)`));
  const handle = stack.client.schedule.getHandle(OPTIMIZER_SCHEDULE_ID);
  const before = (await handle.describe()).info.numActionsSkippedOverlap;
  await gflow('optimize', 'trigger');
  await eventually(async () => ((await handle.describe()).info.runningActions.length === 1 ? true : undefined), 20_000, 'the first triggered check');
  await gflow('optimize', 'trigger');
  const described = await eventually(async () => {
    const d = await handle.describe();
    return d.info.numActionsSkippedOverlap === before + 1 ? d : undefined;
  }, 20_000, 'the second trigger to be skipped');
  expect(described.policies.overlap).toBe('SKIP');
  // (the description reads an unset weight back as 0)
  expect(described.action.priority).toMatchObject(OPTIMIZER_CHECK_PRIORITY);
  expect(described.policies.catchupWindow).toBe(3_600_000);
  expect(await workflowIds(`WorkflowType = 'optimizer' AND WorkflowId STARTS_WITH '${OPTIMIZER_SCHEDULE_ID}-check'`)).toHaveLength(1);

  const { stdout } = await promisify(execFile)(path.join(path.dirname(stack.settings.python), 'temporal'), [
    'schedule', 'describe', '--schedule-id', OPTIMIZER_SCHEDULE_ID, '--address', stack.settings.temporal.address, '--namespace', stack.settings.temporal.namespace, '-o', 'json',
  ]);
  expect(stdout).toContain('"workflowType"');
  expect(stdout).toMatch(/"name":\s*"optimizer"/);

  await withFakeGpu(stack, { bundle }, async () => {
    // the running check ends; a 2 s interval then starts checks on its own, each inside the cooldowns
    await gflow('optimize', 'schedule', '--every', '2s', '--policy', policyFile);
    await eventually(async () => ((await workflowIds(`WorkflowType = 'optimizer' AND WorkflowId STARTS_WITH '${OPTIMIZER_SCHEDULE_ID}-check' AND ExecutionStatus = 'Completed'`)).length >= 2 ? true : undefined), 60_000, 'two scheduled checks');
    await gflow('optimize', 'pause');
  });
  expect((await handle.describe()).state.paused).toBe(true);
  expect(await gflow('optimize', 'list')).toMatch(new RegExp(`\\n${OPTIMIZER_SCHEDULE_ID} +paused +2s +${policyFile} `));
  // no check started an action twice
  expect(await actionIds()).toHaveLength(2);

  expect(await gflow('optimize', 'delete')).toMatch(new RegExp(`^schedule ${OPTIMIZER_SCHEDULE_ID} deleted`));
  await expect(handle.describe()).rejects.toThrow(/not found/i);
  expect(await gflow('optimize', 'list')).toMatch(/^no optimizer schedule/);
});

it('an action id used before is refused by Temporal: decision `in_flight`, nothing started, no cooldown taken', async () => {
  const dupPolicy = path.join(path.dirname(policyFile), 'dup.yaml');
  await writeFile(
    dupPolicy,
    `rules:
  - name: dup-quantize
    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30, scope: { site: "*-${tag}/**" } }
    action: { type: quantize, variants: [{ backend: onnx, precision: fp16 }] }
    cooldown: 7d
`,
  );
  const planned = JSON.parse(await gflow('optimize', 'check', '--policy', dupPolicy, '--json')) as OptimizerResult;
  const [id] = planned.decisions.filter((d) => d.decision === 'started').map((d) => d.workflowId!);
  expect(id).toMatch(new RegExp(`^gf/optimizer/dup-quantize/alpha-${tag}/north-p2/paint/fall/\\d+$`));
  await withFakeGpu(stack, { bundle }, async () => {
    // an earlier workflow under the action's id, already ended (an empty scenario is refused at once)
    const earlier = await stack.client.workflow.start('singleRun', { workflowId: id, taskQueue: CONTROL_QUEUE, args: [{ scenario: {} }] });
    await expect(earlier.result()).rejects.toThrow();
    const result = await stack.client.workflow.execute<typeof optimizer>('optimizer', { workflowId: `optimizer-test-${tag}-4`, taskQueue: CONTROL_QUEUE, args: [{ policyFile: dupPolicy }] });
    expect(ofRule(result, 'dup-quantize').map((d) => [d.siteKey, d.decision, d.workflowId])).toEqual([[PAINT, 'in_flight', id]]);
    const checkRun = await stack.mlflow.getRun(result.checkRunId);
    expect([tagsOf(checkRun)['optimizer.started'], tagsOf(checkRun)['optimizer.started_ids']]).toEqual(['{}', '-']);
  });
  expect(await actionIds()).toHaveLength(3);
});

it('a check with a bad policy file fails InvalidPolicy naming the file, field and line, at once: no check run, no action', async () => {
  const bad = await writePolicyFile(`rules:
  - name: r
    when: { metric: mAP50, comparison: "<", threshold: 0.75 }
    action: { type: batch_up, factor: 1 }
    cooldown: 48h
`, 'bad.yaml');
  const checkRuns = async () => {
    const experiment = await stack.mlflow.getExperimentByName('optimizer');
    return experiment ? (await stack.mlflow.searchRuns({ experimentIds: [experiment.experiment_id] })).length : 0;
  };
  const before = [await checkRuns(), (await actionIds()).length];
  await withFakeGpu(stack, { bundle }, async () => {
    const failed = await runCheck(stack, bad, `optimizer-test-${tag}-bad`).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    // the activity's failure, not retried: one attempt
    const cause = (failed as WorkflowFailedError).cause as ActivityFailure;
    expect(cause.cause).toMatchObject({ type: 'InvalidPolicy', nonRetryable: true, message: expect.stringMatching(new RegExp(`^${bad}: invalid optimizer policy\\n  - rules\\.0\\.action\\.factor: expected at least 2.* \\(line 4\\)`)) });
  });
  expect([await checkRuns(), (await actionIds()).length]).toEqual(before);
});
