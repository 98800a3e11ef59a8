import { writeFile } from 'node:fs/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Browser, Page } from 'playwright-core';
import { uiLinks } from '../../cli/links';
import { upsertSchedule } from '../../cli/optimize-commands';
import { launchChromium } from '../../cli/screenshot-command';
import { startScenario } from '../../cli/start-run';
import { PromotionPhase, SearchAttr, type PromotionProgress } from '../../common/contract';
import { promotionWorkflowId } from '../../common/registry';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import type { OptimizerResult } from '../../workflows/optimizer';
import type { OptimizerActionResult } from '../../workflows/optimizer-action';
import { temporalCli } from '../support/cli';
import { runsOf, tag, writeSiteTaskRuns, type SiteSpec } from '../support/fleet-fixture';
import { connectStack, eventually, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { championScenario, recordChampionArtifacts, writePolicyFile } from '../support/optimizer-fixture';
import { recordBenchmark } from '../support/records';

/**
 * What the Temporal Web UI shows of each workflow (issue 17), read back on the real stack with
 * the stand-in executors: the static summary and details every start carries, read through the
 * client (`describe()`) and the plain `temporal workflow describe`; the current details long
 * workflows keep (the `__temporal_workflow_metadata` query the UI itself asks) at two points of
 * a sweep, a comparison, a pipeline, two optimizer checks and a guarded promotion; activity and
 * timer summaries in histories; and the Web UI's workflow list filtered by GfSite in chromium.
 */

jest.setTimeout(6 * 60_000);

const CUSTOMER = `meta-${tag}`;
const SITE = `${CUSTOMER}/ci-lab/bench`;
let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

function scenario(design: string, version: string, extra: string): Scenario {
  return parseScenarioText(`
name: meta-${version}
version: ${version}
type: train
design: ${design}
site: { customer: ${CUSTOMER}, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01 }
${extra}
`);
}

interface Metadata {
  staticSummary?: string;
  staticDetails?: string;
  currentDetails: string;
}

/** What the Web UI reads of a workflow: static metadata from describe, current details from the metadata query. */
async function metadataOf(id: string): Promise<Metadata> {
  const handle = stack.client.workflow.getHandle(id);
  const described = await handle.describe();
  const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return { staticSummary: await described.staticSummary(), staticDetails: await described.staticDetails(), currentDetails: currentDetails ?? '' };
}

/** Waits until a workflow's current details match `pattern`; returns them. */
const detailsMatching = (id: string, pattern: RegExp, timeoutMs = 120_000) =>
  eventually(async () => {
    const { currentDetails } = await metadataOf(id);
    return pattern.test(currentDetails) ? currentDetails : undefined;
  }, timeoutMs, `current details of ${id} matching ${pattern}`);

/** The summaries of the commands a workflow scheduled, by event kind (`activity train`, `timer`, `child`), from its history. */
async function commandSummaries(id: string): Promise<string[]> {
  const { events } = await stack.client.workflow.getHandle(id).fetchHistory();
  return (events ?? []).flatMap((e) => {
    const summary = e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined;
    if (summary === undefined) return [];
    if (e.activityTaskScheduledEventAttributes) return [`activity ${e.activityTaskScheduledEventAttributes.activityType?.name}: ${summary}`];
    if (e.timerStartedEventAttributes) return [`timer: ${summary}`];
    if (e.startChildWorkflowExecutionInitiatedEventAttributes) return [`child ${e.startChildWorkflowExecutionInitiatedEventAttributes.workflowType?.name}: ${summary}`];
    return [];
  });
}

const links = () => uiLinks(stack.settings);
const SWEEP = () => scenario('sweep', 'sw1', 'sweep: { parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, parallel: 1, metric: det.mAP50 }');
const COMPARISON = () => scenario('comparison', 'cmp1', 'comparison: { architectures: [yolov8n.yaml, yolov8s.yaml], parallel: 1, metric: det.mAP50 }');
const PIPELINE = () => scenario('pipeline', 'pipe1', 'quantization: { variants: [ { backend: onnx, precision: fp32 } ], calibration_size: 8 }\npromotion: { metric: det.mAP50, min_improvement: 0 }');
const mlflowRun = (experimentId: string | undefined, runId: string) => `(${stack.settings.mlflow.uiUrl}/#/experiments/${experimentId}/runs/${runId})`;

it('sweep: summaries on the sweep and each trial, job summaries, current details while running and at the end', async () => {
  const s = SWEEP();
  const id = workflowId(s);
  await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '1' } }, async () => {
    const handle: WorkflowHandle = await startScenario(stack.client, s, { links: links() });
    const started = await metadataOf(id);
    expect(started.staticSummary).toBe(`sweep train · ${SITE} · ppe · yolov8n · sw1`);
    expect(started.staticDetails).toContain('- sweep: grid over learning_rate, batch_size · every combination, 1 at a time · `det.mAP50` (maximize)');
    expect(started.staticDetails).toContain(`- fleet page: [${CUSTOMER} · ppe](http://127.0.0.1:${stack.settings.fleet.port}/?customer=${CUSTOMER}&task=ppe)`);

    // point 1: a trial done, the next one training, the best so far with its parameters
    const running = await detailsMatching(id, /^\*\*running\*\* · [2-4] of 4 trials started: 1 done · 1 running/);
    expect(running).toMatch(/\nbest so far: `det\.mAP50` = [\d.]+, trial 0 \(`lr=0\.001 bs=8`\) · \[run\]\(http/);
    const { runId, experimentId } = await handle.query<{ runId: string; experimentId: string }>('progress');
    expect(running).toContain(`parent run: [${runId}]${mlflowRun(experimentId, runId)}`);

    await handle.result();
    // point 2: the end
    const ended = await metadataOf(id);
    expect(ended.currentDetails).toMatch(/^\*\*finished\*\* · 4 of 4 trials started: 4 done · 0 running · 0 failed · 0 stopped early\nbest so far: `det\.mAP50` = [\d.]+, trial \d \(`lr=0\.01 bs=(8|16)`\)/);

    const trial = await metadataOf(`${id}/trial-3`);
    expect(trial.staticSummary).toBe(`trial 3 · lr=0.01 bs=16 · single train · ${SITE} · ppe · yolov8n · sw1`);
    expect(trial.staticDetails).toContain(`parent run [${runId}]${mlflowRun(experimentId, runId)}`);
    expect(trial.currentDetails).toMatch(/^MLflow run: \[ppe-yolov8n-train-sw1-3\]\(http/);
    const summaries = await commandSummaries(`${id}/trial-3`);
    expect(summaries).toContain('activity train: train trial 3 · lr=0.01 bs=16 epochs=2 · pool default');
    expect(summaries).toContainEqual(expect.stringMatching(/^activity createRun: open MLflow run ppe-yolov8n-train-sw1-3 under [0-9a-f]{32}$/));
    expect(summaries).toContainEqual(expect.stringMatching(/^activity uploadArtifacts: upload \d+ files \(.*weights\/best\.pt.*\) from guardianflow-gpu-default@/));
    expect(summaries).toContainEqual(expect.stringMatching(/^activity endRun: end MLflow run [0-9a-f]{32} FINISHED$/));
    expect(await commandSummaries(id)).toContainEqual(expect.stringMatching(/^child singleRun: trial 0 · lr=0\.001 bs=8 · single train/));

    // the plain Temporal CLI shows the same
    const described = await temporalCli(stack.settings, ['workflow', 'describe', '--workflow-id', id]);
    expect(described.code).toBe(0);
    expect(described.stdout).toContain(`StaticSummary  "sweep train · ${SITE} · ppe · yolov8n · sw1"`);
    expect(described.stdout).toMatch(/StaticDetails +".*- sweep: grid over learning_rate, batch_size · every combination/);
    // current details: the metadata query, which the worker answers
    const current = await temporalCli(stack.settings, ['workflow', 'metadata', '--workflow-id', id]);
    expect([current.code, current.stdout]).toEqual([0, expect.stringContaining('4 of 4 trials started: 4 done')]);
  });
});

it('comparison: arms and leader at two points', async () => {
  const s = COMPARISON();
  const id = workflowId(s);
  await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '1' } }, async () => {
    const handle: WorkflowHandle = await startScenario(stack.client, s, { links: links() });
    expect((await metadataOf(id)).staticSummary).toBe(`comparison train · ${SITE} · ppe · yolov8n · cmp1`);
    const first = await detailsMatching(id, /^\*\*running\*\* · 1 of 2 arms ended/);
    expect(first).toMatch(/^\*\*running\*\* · 1 of 2 arms ended: 1 done · 1 running · 0 failed\nleader: arm 0 \(architecture=yolov8n\) with `det\.mAP50` = [\d.]+/);
    await handle.result();
    expect((await metadataOf(id)).currentDetails).toMatch(/^\*\*finished\*\* · 2 of 2 arms ended: 2 done · 0 running · 0 failed\nleader: architecture=yolov8[ns] with `det\.mAP50` = [\d.]+/);
    expect((await metadataOf(`${id}/arm-1`)).staticSummary).toBe(`arm 1 · architecture=yolov8s · single train · ${SITE} · ppe · yolov8s · cmp1`);
  });
});

it('pipeline: the stage and each stage’s result at two points; stages carry their own summaries', async () => {
  const s = PIPELINE();
  const id = workflowId(s);
  await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '2' } }, async () => {
    const handle: WorkflowHandle = await startScenario(stack.client, s, { links: links() });
    expect(await detailsMatching(id, /^\*\*stage: training\*\*/)).toMatch(/\nparent run: \[[0-9a-f]{32}\]\(http/);
    await handle.result();
    const ended = (await metadataOf(id)).currentDetails;
    expect(ended).toMatch(/^\*\*stage: finished\*\*\n\n- train: run [0-9a-f]{32} · `det\.mAP50` = [\d.]+ · meta-\w+\.ci-lab\.bench\.ppe v\d+\n- quant: run [0-9a-f]{32} · onnx fp32 v1\n- gate: .*promoted.*\n- infer: 2 champions benchmarked\n\nparent run: /);
    expect((await metadataOf(`${id}/quant`)).staticSummary).toBe(`pipeline stage quant · single quant · ${SITE} · ppe · yolov8n · pipe1`);
    expect(await commandSummaries(`${id}/quant`)).toContainEqual(expect.stringMatching(/^activity exportModel: export ppe-yolov8n-quant-pipe1 → onnx fp32 · runs:\/[0-9a-f]{32}\/weights\/best\.pt · pool default$/));
  });
});

const LOOP: SiteSpec = { customer: `metaopt-${tag}`, region: 'north', plant: 'p1', zone: 'gate' };
const LOOP_MODEL = `${LOOP.customer}.north-p1.gate.ppe`;

it('optimizer schedule → action → guarded promotion: summaries from the schedule on; decisions, approval wait and soak readings as current details; timer summaries', async () => {
  const ids = await writeSiteTaskRuns(stack.mlflow, LOOP, 'ppe', runsOf(LOOP, 'ppe'));
  await recordChampionArtifacts(stack, ids[1], championScenario(LOOP, 'ppe', { epochs: 2, batch_size: 8 }));
  const policyFile = await writePolicyFile(`rules:
  - name: meta-batch-up
    when: { metric: mAP50, comparison: "<", threshold: 0.95, scope: { customer: ${LOOP.customer} } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion:
      gate: { metric: det.mAP50, min_improvement: -1 }
      approval: required
      approval_timeout: 30m
      soak: 10m
      soak_check_every: 1s
      rollback_when: [{ metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }]
`);
  const scheduleId = `gf-optimizer-meta-${tag}`;
  await upsertSchedule(stack.client, { every: '1h', policyFile, scheduleId, links: links() });
  const schedule = stack.client.schedule.getHandle(scheduleId);
  try {
    const action = (await schedule.describe()).action;
    expect(action.type === 'startWorkflow' && [action.staticSummary, action.staticDetails]).toEqual([`optimizer check · ${policyFile} · every 1h`, expect.stringContaining(`**optimizer check** of the policy \`${policyFile}\`, every 1h`)]);

    await withFakeGpu(stack, { bundle }, async () => {
      /** One check the schedule starts now; its workflow id once it has ended. */
      const check = async (previous: string[]) => {
        await schedule.trigger();
        const id = await eventually(async () => {
          for await (const wf of stack.client.workflow.list({ query: `TemporalScheduledById = '${scheduleId}'` })) if (!previous.includes(wf.workflowId)) return wf.workflowId;
          return undefined;
        }, 30_000, 'the scheduled check');
        return { id, result: (await stack.client.workflow.getHandle(id).result()) as OptimizerResult };
      };
      // check 1 starts the action
      const first = await check([]);
      const started = first.result.decisions.find((d) => d.decision === 'started')!;
      const one = await metadataOf(first.id);
      expect(one.staticSummary).toBe(`optimizer check · ${policyFile} · every 1h`);
      expect(one.currentDetails).toMatch(new RegExp(`^\\*\\*finished\\*\\* · 1 decisions: 1 started\\n\\n- meta-batch-up · ${LOOP.customer}/north-p1/gate · ppe: \\*\\*started\\*\\* \\(\`det\\.mAP50\` 0\\.82 < 0\\.95\\) → \`${started.workflowId}\`\\n\\ncheck run: \\[[0-9a-f]{32}\\]\\(http`));
      const action = await metadataOf(started.workflowId!);
      expect(action.staticSummary).toMatch(new RegExp(`^optimizer batch_up · ${LOOP.customer}/north-p1/gate · ppe · yolov8s · opt_\\S+$`));
      expect((await metadataOf(`${started.workflowId}/action`)).staticSummary).toMatch(new RegExp(`^optimizer batch_up \\(meta-batch-up\\) · single train · ${LOOP.customer}/north-p1/gate · ppe · yolov8s · opt_\\S+$`));
      expect(action.staticDetails).toContain('rule `meta-batch-up` (`det.mAP50 < 0.95`)');

      // the promotion: waiting for approval until its deadline
      const promotionId = promotionWorkflowId(LOOP_MODEL, '4');
      const waiting = await detailsMatching(promotionId, /^\*\*awaiting approval\*\*/);
      const { approvalDeadline } = await stack.client.workflow.getHandle(promotionId).query<PromotionProgress>('progress');
      expect(waiting).toBe(`**awaiting approval** · ${LOOP_MODEL} v4\nwaiting for approval until ${approvalDeadline} (\`gflow approve|reject ${LOOP_MODEL} 4\`)\ngate: ${(await stack.client.workflow.getHandle(promotionId).query<PromotionProgress>('progress')).gate}`);
      const promotion = await metadataOf(promotionId);
      expect(promotion.staticSummary).toBe(`guarded promotion · ${LOOP_MODEL} v4 · gate passed · approval within 30m · soak 10m`);
      expect(promotion.staticDetails).toContain(`rolled back when \`sys.latency_ms_p95 > 30\``);
      expect((await metadataOf(started.workflowId!)).currentDetails).toMatch(new RegExp(`^\\*\\*guarding 1 candidates\\*\\*`));

      // check 2, during the approval wait: the action is in flight
      const second = await check([first.id]);
      expect((await metadataOf(second.id)).currentDetails).toMatch(/^\*\*finished\*\* · 1 decisions: 1 in_flight\n\n- meta-batch-up · .*\*\*in_flight\*\*/);

      // approved: soaking, with the numbers it reads
      await recordBenchmark(stack, LOOP_MODEL, '4', { 'sys.latency_ms_p95': 12 });
      await stack.client.workflow.getHandle(promotionId).executeUpdate('approve', { args: [{ by: 'dana' }] });
      const soaking = await detailsMatching(promotionId, /seen: `sys\.latency_ms_p95` = 12/, 60_000);
      expect(soaking).toMatch(/^\*\*soaking\*\* · .* v4\nsoaking until \d{4}-\S+ · seen: `sys\.latency_ms_p95` = 12\napproved by dana\n/);

      await recordBenchmark(stack, LOOP_MODEL, '4', { 'sys.latency_ms_p95': 45 });
      const ended = (await stack.client.workflow.getHandle(started.workflowId!).result()) as OptimizerActionResult;
      expect(ended.promotions[0].phase).toBe(PromotionPhase.rolledBack);
      expect((await metadataOf(promotionId)).currentDetails).toMatch(/^\*\*rolled back\*\* · .*\nsoaked until .* seen: `sys\.latency_ms_p95` = 45\napproved by dana\ngate: .*\nwhy: sys\.latency_ms_p95 45 > 30$/);
      const summaries = await commandSummaries(promotionId);
      expect(summaries).toContainEqual(expect.stringMatching(/^timer: approval timeout of .* v4: gives up at \d{4}-\S+ \(30m\)$/));
      expect(summaries).toContainEqual(expect.stringMatching(/^timer: soak of .* v4 until \d{4}-\S+: next reading of sys\.latency_ms_p95$/));
      expect(summaries).toContainEqual(`activity versionMetrics: read ${LOOP_MODEL} v4's fleet numbers: sys.latency_ms_p95`);
      expect(summaries).toContainEqual(expect.stringMatching(/^child registryMove: rollback .* v4 · by workflow:gf\/promotion\//));
    });
  } finally {
    await schedule.delete();
  }
});

/** Waits until `text` shows in the page or one of its frames (the Web UI renders user metadata as markdown in sandboxed frames). */
async function shown(page: Page, text: string): Promise<void> {
  await eventually(async () => {
    for (const frame of page.frames()) if ((await frame.locator('body').innerText({ timeout: 1000 }).catch(() => '')).includes(text)) return true;
    return undefined;
  }, 60_000, `"${text}" in the Web UI`);
}

it('the Web UI: the site’s workflows listed by GfSite, and a sweep’s summary, details and current details on its page (chromium)', async () => {
  const sweepId = workflowId(SWEEP());
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    // the control worker answers the Web UI's metadata query (current details)
    await withFakeGpu(stack, { bundle }, async () => {
      const query = `${SearchAttr.site.name}="${SITE}"`;
      await page.goto(`${stack.settings.temporal.uiUrl}/namespaces/${stack.settings.temporal.namespace}/workflows?query=${encodeURIComponent(query)}`);
      // the list (Web UI 2.54) shows ids and types, not summaries: the site's top-level workflows and their children are there
      for (const id of [sweepId, `${sweepId}/trial-3`, workflowId(COMPARISON()), workflowId(PIPELINE())]) await shown(page, id);
      await page.getByRole('link', { name: sweepId, exact: true }).first().click();
      await page.getByText('User Metadata').first().click();
      await shown(page, `sweep train · ${SITE} · ppe · yolov8n · sw1`);
      await shown(page, 'sweep: grid over learning_rate, batch_size');
      await shown(page, '4 of 4 trials started: 4 done');
      const png = process.env.GF_UI_SUMMARIES_PNG;
      if (png) await writeFile(png, await page.screenshot({ fullPage: true }));
    });
  } finally {
    await browser?.close();
  }
});
