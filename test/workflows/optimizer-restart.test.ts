import type { Worker } from '@temporalio/worker';
import type { OptimizerResult } from '../../workflows/optimizer';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { runsOf, tag, writeSiteTaskRuns, type SiteSpec } from '../support/fleet-fixture';
import { connectStack, eventually, FAKE_EXECUTOR, FAKE_QUANT, metricsOf, paramsOf, tagsOf, workflowBundle, type Stack } from '../support/harness';
import { actionIdsSince, actionRuns, championScenario, executionsOf, recordChampionArtifacts, runCheck, writePolicyFile } from '../support/optimizer-fixture';
import { restartTemporalServer } from '../support/temporal-restart';

/**
 * The optimizer's durability (issue 9 "Done when": restart test), on the real stack with the
 * stand-in executor: two site tasks of this file's own customer, both below the rule's mAP50 0.95.
 * Check 1 starts a short retrain (press: 2 epochs) and a long one (kiln: 120 epochs of 0.5 s).
 * Once the short one has finished and the long one is training, the control worker stops and the
 * Temporal dev server restarts on the same SQLite file. With a new control worker, check 2 finds
 * press in its cooldown and kiln in flight; the long retrain goes on to the end; check 3 finds
 * both in their cooldowns, from check 1's time. No action has a second execution or a second run.
 */

jest.setTimeout(8 * 60_000);

const RULE = 'below-target-batch-up';
const COOLDOWN_MS = 60 * 60_000;
const CUSTOMER = `restart-${tag}`;
const PRESS: SiteSpec = { customer: CUSTOMER, region: 'north', plant: 'p1', zone: 'press' };
const KILN: SiteSpec = { customer: CUSTOMER, region: 'north', plant: 'p1', zone: 'kiln' };
const keyOf = (s: SiteSpec) => `${s.customer}/${s.region}-${s.plant}/${s.zone}`;
const LONG_EPOCHS = 120;

const POLICY = `max_concurrent: 2
rules:
  - name: ${RULE}
    when: { metric: mAP50, comparison: "<", threshold: 0.95, scope: { customer: ${CUSTOMER} } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
`;

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let policyFile: string;
const championRun = { press: '', kiln: '' };
const since = new Date().toISOString();

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  const [press, kiln] = await Promise.all([PRESS, KILN].map((s) => writeSiteTaskRuns(stack.mlflow, s, 'ppe', runsOf(s, 'ppe'))));
  [championRun.press, championRun.kiln] = [press[1], kiln[1]];
  await recordChampionArtifacts(stack, championRun.press, championScenario(PRESS, 'ppe', { epochs: 2, batch_size: 8 }));
  await recordChampionArtifacts(stack, championRun.kiln, championScenario(KILN, 'ppe', { epochs: LONG_EPOCHS, batch_size: 8 }));
  policyFile = await writePolicyFile(POLICY);
});

afterAll(async () => {
  await stack?.close();
});

/** Each site's decision, in site order (kiln, press). */
const bySite = (result: OptimizerResult) => result.decisions.map((d) => [d.siteKey, d.decision, d.cooldownUntil]);
const checkRun = async (result: OptimizerResult) => stack.mlflow.getRun(result.checkRunId);

it('a control worker stop and a Temporal server restart between two checks, during an action, start no action twice and lose no cooldown', async () => {
  const settings = stack.settings;
  const control = () => createControlWorker({ settings, connection: stack.nativeConnection, workflowBundle: bundle });
  // two slots: the short retrain must not queue behind the long one
  const gpu = await createGpuWorkers({
    settings: { ...settings, gpu: { ...settings.gpu, slots: 2 } },
    connection: stack.nativeConnection,
    client: stack.client,
    executors: { train: FAKE_EXECUTOR, export: FAKE_QUANT, benchmark: FAKE_QUANT },
    env: { GF_FAKE_EPOCH_SECONDS: '0.5' },
    heartbeatIntervalMs: 500,
  });
  const gpuRunning = gpu.map((w) => w.run());
  try {
    const first: Worker = await control();
    const { check1, pressId, kilnId } = await first.runUntil(async () => {
      const check1 = await runCheck(stack, policyFile, `optimizer-restart-${tag}-1`);
      expect(check1.decisions.map((d) => [d.siteKey, d.decision])).toEqual([
        [keyOf(KILN), 'started'],
        [keyOf(PRESS), 'started'],
      ]);
      const [kilnId, pressId] = check1.decisions.map((d) => d.workflowId!);
      await stack.client.workflow.getHandle(pressId).result();
      // the long retrain is under way: its run is recording epochs
      await eventually(async () => {
        const [run] = await actionRuns(stack, championRun.kiln, kilnId);
        return run?.info.status === 'RUNNING' && metricsOf(run)['det.mAP50'] !== undefined ? run : undefined;
      }, 60_000, 'the long retrain to report its first epoch');
      return { check1, pressId, kilnId };
    });
    const firstAt = Date.parse(paramsOf(await checkRun(check1))['optimizer.now']);
    expect(tagsOf(await checkRun(check1))['optimizer.started']).toBe(JSON.stringify({ [`${RULE}/${keyOf(KILN)}/ppe`]: firstAt, [`${RULE}/${keyOf(PRESS)}/ppe`]: firstAt }));

    // runUntil has shut the first control worker down; now the server goes too
    await restartTemporalServer(settings);

    const second: Worker = await control();
    await second.runUntil(async () => {
      const [kilnRun] = await actionRuns(stack, championRun.kiln, kilnId);
      expect(kilnRun.info.status).toBe('RUNNING');
      const check2 = await runCheck(stack, policyFile, `optimizer-restart-${tag}-2`);
      expect(bySite(check2)).toEqual([
        [keyOf(KILN), 'in_flight', null],
        [keyOf(PRESS), 'cooldown', firstAt + COOLDOWN_MS],
      ]);
      expect(check2.decisions[0].workflowId).toBe(kilnId);

      await stack.client.workflow.getHandle(kilnId).result();
      const check3 = await runCheck(stack, policyFile, `optimizer-restart-${tag}-3`);
      expect(bySite(check3)).toEqual([
        [keyOf(KILN), 'cooldown', firstAt + COOLDOWN_MS],
        [keyOf(PRESS), 'cooldown', firstAt + COOLDOWN_MS],
      ]);
      for (const check of [check2, check3]) expect(tagsOf(await checkRun(check))['optimizer.started_ids']).toBe('-');
    });

    // each action: one execution, one run, finished; the long one trained every epoch
    expect(await actionIdsSince(stack, since, `gf/optimizer/${RULE}/${CUSTOMER}/`)).toEqual([kilnId, pressId].sort());
    for (const id of [kilnId, pressId]) expect(await executionsOf(stack, id)).toBe(1);
    const [kilnRuns, pressRuns] = await Promise.all([actionRuns(stack, championRun.kiln, kilnId), actionRuns(stack, championRun.press, pressId)]);
    expect([...kilnRuns, ...pressRuns].map((r) => r.info.status)).toEqual(['FINISHED', 'FINISHED']);
    expect(metricsOf(kilnRuns[0])['train.epochs_completed']).toBe(LONG_EPOCHS);
  } finally {
    for (const w of gpu) w.shutdown();
    await Promise.all(gpuRunning);
  }
});
