import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { progressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { singleRun } from '../../workflows/single-run';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { childRuns, connectStack, eventually, isAlive, metricsOf, tagsOf, syntheticDataset, withWorkers, workflowBundle, type Stack } from '../support/harness';
import { gflow } from '../support/cli';

jest.setTimeout(10 * 60_000);

const CLASSES = ['helmet', 'vest'];
const COMMON = `
site: { customer: e2e-co, region: ci, plant: lab, zone: control }
task: { type: ppe, classes: [${CLASSES.join(', ')}] }
model: { architecture: yolov8n.yaml, input_size: 64 }
environment: { device: cpu, seed: 0, workers: 0 }`;

let stack: Stack;
let dir: string;
let dataYaml: string;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-control-e2e-'));
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 32, val: 8, classes: CLASSES });
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

/** Control worker and one GPU slot running the real ultralytics executors. */
async function workers(): Promise<Worker[]> {
  return [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
}

/** A metric's value per epoch (step) as MLflow recorded it; the first value of a step. */
async function perEpoch(runId: string, key: string): Promise<Map<number, number>> {
  const values = new Map<number, number>();
  for (const m of await stack.mlflow.getMetricHistory(runId, key)) if (!values.has(m.step)) values.set(m.step, m.value);
  return values;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

describe('sweep early stopping and cancel with real ultralytics on CPU', () => {
  it('median early stopping: the rule decided on the recorded per-epoch metrics, the stopped trial saved GPU time', async () => {
    // With seed 0 and deterministic training, learning rate 1.0 is clearly worse than 0.01 on the
    // training box loss of epoch 1 (measured on this CPU: 4.71 vs 4.03); later epochs go either way.
    const epochs = 8;
    const scenario = parseScenarioText(`
name: e2e-early-stop
version: e2ees
type: train
design: sweep
${COMMON}
dataset: { path: ${dataYaml}, version: synthetic-1 }
training: { epochs: ${epochs}, batch_size: 8, learning_rate: 0.01, optimizer: SGD, plots: false }
sweep: { parameters: { learning_rate: [0.01, 1.0] }, strategy: grid, parallel: 1, metric: det.box_loss, goal: minimize, early_stopping: { min_completed: 1, grace_epochs: 1 } }
`);
    const result = await withWorkers(await workers(), async () => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>).result());
    const parent = await stack.mlflow.getRun(result.runId);
    expect(parent.info.status).toBe('FINISHED');
    const trials = (await childRuns(stack, result.runId)).sort((a, b) => Number(tagsOf(a)['sweep.index']) - Number(tagsOf(b)['sweep.index']));
    expect(trials.map((t) => tagsOf(t)['sweep.index'])).toEqual(['0', '1']);

    // replay the median rule on what MLflow holds: trials in order (parallel 1), each against the completed ones before it
    const completed: Map<number, number>[] = [];
    const stoppedAt: (number | undefined)[] = [];
    for (const trial of trials) {
      const values = await perEpoch(trial.info.run_id, 'det.box_loss');
      let stop: number | undefined;
      for (let epoch = 1; epoch < epochs && stop === undefined; epoch++) {
        const bars = completed.map((c) => c.get(epoch)).filter((v): v is number => v !== undefined);
        const value = values.get(epoch);
        if (bars.length >= 1 && value !== undefined && value > median(bars)) stop = epoch;
      }
      stoppedAt.push(stop);
      if (stop === undefined) completed.push(values);
      expect(trial.info.status).toBe('FINISHED');
      expect(tagsOf(trial)['sweep.stopped_early']).toBe(stop === undefined ? undefined : 'true');
      expect(tagsOf(trial)['sweep.stopped_at_epoch']).toBe(stop === undefined ? undefined : String(stop));
      expect(metricsOf(trial)['train.epochs_completed']).toBe(stop ?? epochs);
    }

    // what these runs show: the first trial completes, the learning rate of 1.0 stops after its first epoch
    expect(stoppedAt).toEqual([undefined, 1]);
    expect(result).toEqual(expect.objectContaining({ done: 1, stopped: 1, failed: 0 }));
    expect(result.gpuSecondsSaved).toBeGreaterThan(0);
    expect(metricsOf(parent)['sweep.stopped_early']).toBe(1);
    expect(metricsOf(parent)['sweep.gpu_seconds_saved']).toBeCloseTo(result.gpuSecondsSaved, 3);
    expect(metricsOf(trials[1])['sweep.gpu_seconds_saved']).toBeGreaterThan(0);
    expect(tagsOf(parent)['best.run_id']).toBe(trials[0].info.run_id);
    expect((await stack.mlflow.getModelVersionByAlias('e2e-co.ci-lab.control.ppe', 'candidate'))?.run_id).toBe(trials[0].info.run_id);
    const pid = Number(await readFile(path.join(stack.settings.gpu.workDir, trials[1].info.run_id, 'executor.pid'), 'utf8'));
    expect(isAlive(pid)).toBe(false);
  });

  it('gflow cancel during a real training kills ultralytics: run KILLED, nothing registered', async () => {
    const file = path.join(dir, 'cancel.yaml');
    await writeFile(file, `
name: e2e-cancel
version: e2ecancel
type: train
${COMMON}
dataset: { path: ${dataYaml}, version: synthetic-1 }
training: { epochs: 50, batch_size: 8, learning_rate: 0.01, optimizer: SGD, plots: false }
`);
    const id = workflowId(parseScenarioText(await readFile(file, 'utf8')));
    await withWorkers(await workers(), async () => {
      expect((await gflow(stack.settings, ['run', file])).code).toBe(0);
      const handle = stack.client.workflow.getHandle<typeof singleRun>(id);
      const progress = await eventually(async () => {
        const p = await handle.query(progressQuery);
        return (p.training?.epoch ?? 0) >= 2 ? p : undefined;
      }, 180_000, 'epoch 2');
      const pid = Number(await readFile(path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.pid'), 'utf8'));
      expect(isAlive(pid)).toBe(true);

      expect(await gflow(stack.settings, ['cancel', id])).toEqual(expect.objectContaining({ code: 0, stdout: `cancellation requested for ${id}\n` }));
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(isAlive(pid)).toBe(false);
      expect((await handle.query(progressQuery)).phase).toBe('cancelled');

      const run = await stack.mlflow.getRun(progress.runId!);
      expect(run.info.status).toBe('KILLED');
      const steps = [...(await perEpoch(progress.runId!, 'det.box_loss')).keys()];
      expect(Math.max(...steps)).toBeGreaterThanOrEqual(2);
      expect(Math.max(...steps)).toBeLessThan(50);
      expect(metricsOf(run)['train.epochs_completed']).toBeUndefined();
      expect(await stack.mlflow.searchModelVersions(`run_id='${progress.runId}'`)).toEqual([]);
    });
  });
});
