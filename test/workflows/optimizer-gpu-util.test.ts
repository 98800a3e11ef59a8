import { runsOf, tag, writeSiteTaskRuns, type RunSpec, type SiteSpec } from '../support/fleet-fixture';
import { connectStack, metricsOf, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { actionIdsSince, actionRuns, championScenario, recordChampionArtifacts, runCheck, writePolicyFile } from '../support/optimizer-fixture';

/**
 * The GPU-utilisation rule on the real stack (issue 9 item 5): `sys.gpu_util_pct`, which training
 * logs only on GPU hosts, is injected into the recorded runs of a fleet of three site tasks of
 * this file's own customer: press ppe's champion trained at 35 % (a GPU host, under the rule's
 * 50 %), mill ppe's at 85 %, lathe ppe's on a CPU host (no metric at all). One check starts
 * exactly one `batch_up` retrain, for press, with the champion's scenario at twice its batch size;
 * the CPU site is `no_metric`, never a trigger.
 */

jest.setTimeout(180_000);

const CUSTOMER = `gpu-${tag}`;
const site = (zone: string): SiteSpec => ({ customer: CUSTOMER, region: 'west', plant: 'p1', zone });
const PRESS = site('press');
const MILL = site('mill');
const LATHE = site('lathe');
const keyOf = (s: SiteSpec) => `${s.customer}/${s.region}-${s.plant}/${s.zone}`;

const POLICY = `max_concurrent: 2
rules:
  - name: low-gpu-util-batch-up
    when: { metric: sys.gpu_util_pct, comparison: "<", threshold: 50, scope: { site: "${CUSTOMER}/**" } }
    action: { type: batch_up, factor: 2 }
    cooldown: 7d
`;

/**
 * The fleet's usual runs of a site task (v1, v2 champion, v3) with the champion's training at
 * `gpuUtil` (undefined: a CPU host) and no benchmark: a benchmark's own utilisation would
 * overlay the training's in the champion's figures (fleet/select.ts versionSummaries).
 */
function trainedAt(s: SiteSpec, gpuUtil: number | undefined): RunSpec[] {
  const runs = runsOf(s, 'ppe').filter((r) => r.type === 'train');
  if (gpuUtil !== undefined) runs[1].metrics['sys.gpu_util_pct'] = gpuUtil;
  return runs;
}

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let policyFile: string;
let pressChampionRun: string;
const since = new Date().toISOString();

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  const [press] = await Promise.all([
    writeSiteTaskRuns(stack.mlflow, PRESS, 'ppe', trainedAt(PRESS, 35)),
    writeSiteTaskRuns(stack.mlflow, MILL, 'ppe', trainedAt(MILL, 85)),
    writeSiteTaskRuns(stack.mlflow, LATHE, 'ppe', trainedAt(LATHE, undefined)),
  ]);
  pressChampionRun = press[1];
  await recordChampionArtifacts(stack, pressChampionRun, championScenario(PRESS, 'ppe', { epochs: 2, batch_size: 8 }));
  policyFile = await writePolicyFile(POLICY);
});

afterAll(async () => {
  await stack?.close();
});

it('low GPU utilisation while training starts a batch_up retrain at twice the batch; a site without the metric is never a trigger', async () => {
  await withFakeGpu(stack, { bundle }, async () => {
    const result = await runCheck(stack, policyFile, `optimizer-gpu-${tag}-1`);
    expect(result.decisions.map((d) => [d.siteKey, d.task, d.value, d.decision])).toEqual([
      [keyOf(LATHE), 'ppe', null, 'no_metric'],
      [keyOf(MILL), 'ppe', 85, 'no_trigger'],
      [keyOf(PRESS), 'ppe', 35, 'started'],
    ]);
    const started = result.decisions[2];
    expect(started.workflowId).toMatch(new RegExp(`^gf/optimizer/low-gpu-util-batch-up/${keyOf(PRESS)}/ppe/\\d+$`));
    expect(await actionIdsSince(stack, since)).toEqual([started.workflowId]);

    await stack.client.workflow.getHandle(started.workflowId!).result();
    const runs = await actionRuns(stack, pressChampionRun, started.workflowId!);
    expect(runs).toHaveLength(1);
    const [run] = runs;
    const window = started.workflowId!.split('/').pop();
    // the champion's scenario (yolov8s, 2 epochs, batch 8) with only the batch doubled
    expect(paramsOf(run)).toMatchObject({ 'model.architecture': 'yolov8s.yaml', 'train.epochs': '2', 'train.batch_size': '16' });
    expect(tagsOf(run)).toMatchObject({ 'exp.type': 'train', 'exp.version': `opt_low_gpu_util_batch_up_${window}`, 'optimizer.rule': 'low-gpu-util-batch-up', 'optimizer.check_run_id': result.checkRunId });
    expect(metricsOf(run)['train.batch_size_effective']).toBe(16);
    expect(run.info.status).toBe('FINISHED');
  });
});
