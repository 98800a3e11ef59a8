import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { startScenario } from '../../cli/start-run';
import { moveModel } from '../../cli/registry-commands';
import { RegistryOp } from '../../common/registry';
import { parseScenarioText } from '../../scenarios/loader';
import { registeredModelName } from '../../scenarios/naming';
import type { OptimizerActionResult } from '../../workflows/optimizer-action';
import type { SingleRunResult } from '../../workflows/single-run';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { tag } from '../support/fleet-fixture';
import { artifactKeys, connectStack, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';
import { runCheck, writePolicyFile } from '../support/optimizer-fixture';
import { aliasesOf } from '../support/records';

/**
 * One optimizer action with real ultralytics (issue 9: "real ultralytics for one action"): a
 * site's champion trained for real (1 epoch on the synthetic shapes), then a check whose
 * `batch_up` rule fires on it retrains the champion's own recorded scenario with twice the batch,
 * for real, and the rule's guarded promotion makes the retrained model champion.
 */

jest.setTimeout(15 * 60_000);

const CUSTOMER = `realopt-${tag}`;

let stack: Stack;
let workers: Worker[];
let dataYaml: string;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-e2e-opt-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 16, val: 8, classes: ['helmet', 'vest'] });
  workers = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
});

afterAll(async () => {
  await stack?.close();
});

it('a batch_up action retrains the champion’s recorded scenario for real with twice the batch and promotes it through its gate', async () => {
  const scenario = parseScenarioText(`
name: real-opt
version: r1
type: train
site: { customer: ${CUSTOMER}, region: ci, plant: lab, zone: dock }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataYaml}, version: synthetic-1 }
environment: { device: cpu, seed: 0, workers: 0 }
training: { epochs: 1, batch_size: 4, learning_rate: 0.01, optimizer: SGD, plots: false }
`);
  const model = registeredModelName(scenario);
  const policyFile = await writePolicyFile(`rules:
  - name: real-batch-up
    when: { metric: mAP50, comparison: "<", threshold: 1.01, scope: { customer: ${CUSTOMER} } }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion: { gate: { metric: det.mAP50, min_improvement: -1 } }
`);

  await withWorkers(workers, async () => {
    const trained = await (await startScenario(stack.client, scenario)).result();
    await moveModel(stack.client, { model, op: RegistryOp.promote });
    expect(await aliasesOf(stack, model)).toEqual({ champion: trained.model!.version });

    const check = await runCheck(stack, policyFile, `real-opt-check-${tag}`);
    const [started] = check.decisions.filter((d) => d.decision === 'started');
    expect([started.rule, started.champion]).toEqual(['real-batch-up', { name: model, version: trained.model!.version }]);
    const action = (await stack.client.workflow.getHandle(started.workflowId!).result()) as OptimizerActionResult;

    const retrained = (await stack.client.workflow.getHandle(action.actionWorkflowId).result()) as SingleRunResult;
    const run = await stack.mlflow.getRun(retrained.runId);
    expect(run.info.status).toBe('FINISHED');
    // the champion's own data and settings, batch 4 × 2, trained by ultralytics (real weights and results in S3)
    expect(paramsOf(run)).toMatchObject({ 'train.batch_size': '8', 'train.epochs': '1', 'model.architecture': 'yolov8n.yaml' });
    expect(tagsOf(run)).toMatchObject({ 'data.path': dataYaml, 'optimizer.rule': 'real-batch-up', 'optimizer.check_run_id': check.checkRunId });
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toEqual(expect.arrayContaining(['weights/best.pt', 'config/scenario.yaml']));
    expect(retrained.metrics['det.mAP50']).toBeGreaterThanOrEqual(0);

    expect(action.promotions).toEqual([expect.objectContaining({ model, version: retrained.model!.version, phase: 'promoted' })]);
    expect(await aliasesOf(stack, model)).toEqual({ champion: retrained.model!.version, rollback: trained.model!.version });
  });
});
