import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { batchProgressQuery, progressQuery } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { comparison } from '../../workflows/comparison';
import { childRuns, connectStack, eventually, isAlive, metricsOf, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { artifactText, parseCsv } from '../support/records';

jest.setTimeout(120_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let dir: string;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-compare-'));
});

afterAll(async () => {
  await stack?.close();
});

const start = async (yaml: string) => (await startScenario(stack.client, parseScenarioText(yaml))) as unknown as WorkflowHandle<typeof comparison>;

describe('comparison outcomes (real Temporal, MLflow, S3; stand-in executors)', () => {
  it('the best arm is the one with the best metric in MLflow; comparison.csv holds every arm as recorded', async () => {
    // stand-in models: each file declares the det.mAP50 its benchmark reports (test/fixtures/fake_quant.py)
    const declared = { alpha: 0.41, bravo: 0.77, charlie: 0.52 };
    const models: Record<string, string> = {};
    for (const [name, mAP50] of Object.entries(declared)) {
      models[name] = path.join(dir, `${name}.pt`);
      await writeFile(models[name], JSON.stringify({ mAP50, latency_ms: 5 }));
    }
    const dataset = path.join(dir, 'data.yaml');
    await writeFile(dataset, 'path: .\n');
    const result = await withFakeGpu(stack, { bundle }, async () =>
      (
        await start(`
name: best-arm
version: bestarm
type: infer
design: comparison
site: { customer: compare-co, region: ci, plant: lab, zone: outcomes }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64, weights: ${models.alpha} }
dataset: { path: ${dataset}, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
benchmark: { batch_sizes: [1] }
comparison: { models: [${models.alpha}, ${models.bravo}, ${models.charlie}], datasets: [ { path: ${dataset}, version: site-a } ], metric: det.mAP50, parallel: 2 }
`)
      ).result(),
    );
    const parent = await stack.mlflow.getRun(result.runId);
    const arms = await childRuns(stack, result.runId);
    expect(arms).toHaveLength(3);
    const byModel = Object.fromEntries(arms.map((r) => [paramsOf(r)['model.weights'], r]));
    expect(Object.keys(byModel).sort()).toEqual([models.alpha, models.bravo, models.charlie]);
    expect(Object.entries(models).map(([name, file]) => [name, metricsOf(byModel[file])['det.mAP50']])).toEqual([
      ['alpha', 0.41],
      ['bravo', 0.77],
      ['charlie', 0.52],
    ]);

    const best = arms.reduce((a, b) => (metricsOf(b)['det.mAP50'] > metricsOf(a)['det.mAP50'] ? b : a));
    expect(best.info.run_id).toBe(byModel[models.bravo].info.run_id);
    expect(tagsOf(parent)['comparison.best_run_id']).toBe(best.info.run_id);
    expect(result.best).toEqual(expect.objectContaining({ runId: best.info.run_id, value: 0.77 }));
    expect(metricsOf(parent)['best.det.mAP50']).toBe(0.77);

    const table = parseCsv(await artifactText(stack.settings, parent.info.artifact_uri, 'comparison.csv'));
    expect(table.header).toEqual(expect.arrayContaining(['run_id', 'run_name', 'status', 'comparison.variable', 'comparison.value', 'model', 'dataset', 'det.mAP50', 'sys.latency_ms']));
    expect(table.rows.map((r) => r.run_id).sort()).toEqual(arms.map((r) => r.info.run_id).sort());
    for (const row of table.rows) {
      const arm = arms.find((r) => r.info.run_id === row.run_id)!;
      expect(row).toEqual(
        expect.objectContaining({
          run_name: arm.info.run_name,
          status: 'FINISHED',
          'comparison.variable': 'dataset',
          'comparison.value': 'site-a',
          model: tagsOf(arm)['comparison.model'],
          dataset: 'site-a',
        }),
      );
      expect(Number(row['det.mAP50'])).toBe(metricsOf(arm)['det.mAP50']);
      expect(Number(row['sys.latency_ms'])).toBe(5);
    }
  });

  it('a cancelled comparison kills its running arms: every child run and the parent end KILLED', async () => {
    const yaml = `
name: cancel-compare
version: ccancel
type: train
design: comparison
site: { customer: compare-co, region: ci, plant: lab, zone: outcomes }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 100, batch_size: 16, learning_rate: 0.01 }
comparison: { architectures: [yolov8n.yaml, yolov8s.yaml, yolo11n.yaml], metric: det.mAP50, parallel: 2 }
`;
    const id = workflowId(parseScenarioText(yaml));
    await withFakeGpu(stack, { bundle, slots: 2, env: { GF_FAKE_EPOCH_SECONDS: '0.5' } }, async () => {
      const handle = await start(yaml);
      const running = await eventually(async () => {
        const arms = await Promise.all([0, 1].map((i) => stack.client.workflow.getHandle(`${id}/arm-${i}`).query(progressQuery)));
        return arms.every((a) => (a.training?.epoch ?? 0) >= 1) ? arms : undefined;
      });
      const pids = await Promise.all(running.map(async (a) => Number(await readFile(path.join(stack.settings.gpu.workDir, a.runId!, 'executor.pid'), 'utf8'))));
      expect(pids.every(isAlive)).toBe(true);

      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(pids.some(isAlive)).toBe(false);
      const progress = await handle.query(batchProgressQuery);
      expect(progress.phase).toBe('cancelled');
      expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('KILLED');
      const children = await childRuns(stack, progress.runId!);
      expect(children.map((r) => r.info.run_id).sort()).toEqual(running.map((a) => a.runId).sort());
      expect(children.map((r) => r.info.status)).toEqual(['KILLED', 'KILLED']);
    });
  });
});
