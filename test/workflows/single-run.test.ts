import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MlflowClient, type RunInfo } from '../../activities/tracking/mlflow-client';
import { RUN_KEY_TAG } from '../../activities/tracking/activities';
import { CONTROL_QUEUE, progressQuery, WorkflowType } from '../../common/contract';
import { experimentName, registeredModelName, workflowId } from '../../scenarios/naming';
import { startScenario } from '../../cli/start-run';
import type { singleRun } from '../../workflows/single-run';
import { metricsOf, artifactKeys, connectStack, eventually, isAlive, paramsOf, tagsOf, trainScenario, withFakeGpu as withFakeGpuWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(120_000);

const NO_DATA = '/nonexistent/data.yaml';

/** Simulates a lost response: the first createRun of a run named `*-retrycreate` reaches MLflow, then fails. */
class LostResponseMlflow extends MlflowClient {
  failures = 0;
  override async createRun(args: Parameters<MlflowClient['createRun']>[0]): Promise<RunInfo> {
    const info = await super.createRun(args);
    if (args.runName.endsWith('-retrycreate') && this.failures === 0) {
      this.failures++;
      throw new Error('connection reset after the run was created');
    }
    return info;
  }
}

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let mlflow: LostResponseMlflow;

beforeAll(async () => {
  stack = await connectStack();
  mlflow = new LostResponseMlflow(stack.settings.mlflow.url);
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

const withFakeGpu = <T>(env: Record<string, string>, fn: () => Promise<T>) => withFakeGpuWorkers(stack, { bundle, env, mlflow }, fn);

async function runOf(handle: WorkflowHandle<typeof singleRun>) {
  const p = await handle.query(progressQuery);
  return stack.mlflow.getRun(p.runId!);
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause!;
}

/** The batch size of each scheduled `train` activity, in order. */
function trainBatchSizes(history: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>): number[] {
  return history
    .events!.map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'train')
    .map((a) => (JSON.parse(Buffer.from(a!.input!.payloads![0].data!).toString()) as { batchSize: number }).batchSize);
}


function rootCause(err: Error): Error {
  return err.cause instanceof Error ? rootCause(err.cause) : err;
}

describe('singleRun on a real Temporal server, MLflow and S3 (stand-in executor)', () => {
  it('records a successful run: tags, params, per-epoch metrics, artifacts, candidate alias', async () => {
    const scenario = trainScenario({ version: 'ok', dataPath: NO_DATA, epochs: 3 });
    await withFakeGpu({ GF_FAKE_EPOCH_SECONDS: '0.1' }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const result = await handle.result();
      const run = await stack.mlflow.getRun(result.runId);
      expect(run.info.status).toBe('FINISHED');
      expect(tagsOf(run)).toMatchObject({ 'exp.type': 'train', 'gf.workflow_id': workflowId(scenario), 'site.customer': 'test-co' });
      const history = await stack.mlflow.getMetricHistory(result.runId, 'det.mAP50');
      expect(history.map((m) => m.step).sort()).toEqual(expect.arrayContaining([1, 2, 3]));
      expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toEqual(
        expect.arrayContaining(['config/scenario.yaml', 'weights/best.pt', 'weights/last.pt', 'results.csv', 'logs/executor.log']),
      );
      const candidate = await stack.mlflow.getModelVersionByAlias(registeredModelName(scenario), 'candidate');
      expect(candidate).toMatchObject({ run_id: result.runId, version: result.model?.version });
      expect(await handle.query(progressQuery)).toMatchObject({ phase: 'finished', training: { epoch: 3, epochs: 3 } });
      const { searchAttributes } = await handle.describe();
      expect(searchAttributes).toMatchObject({ GfSite: [experimentName(scenario)], GfTask: ['ppe'], GfDesign: ['single'], GfType: ['train'] });
    });
  });

  it('refuses to start the same scenario twice', async () => {
    const scenario = trainScenario({ version: 'ok', dataPath: NO_DATA });
    await expect(startScenario(stack.client, scenario)).rejects.toThrow(/already started/i);
  });

  it('ends the run FAILED with a typed, non-retried failure when the executor reports bad data', async () => {
    const scenario = trainScenario({ version: 'baddata', dataPath: NO_DATA });
    await withFakeGpu({ GF_FAKE_FAIL: 'data' }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const cause = rootCause(await failureOf(handle.result()));
      expect(cause).toBeInstanceOf(ApplicationFailure);
      expect((cause as ApplicationFailure).type).toBe('InvalidDataset');
      expect((await runOf(handle)).info.status).toBe('FAILED');
      const history = await handle.fetchHistory();
      const trainAttempts = history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train');
      expect(trainAttempts).toHaveLength(1);
    });
  });

  it('halves the batch after each CUDA out-of-memory failure and records what it took', async () => {
    const scenario = trainScenario({ version: 'oomhalve', dataPath: NO_DATA, batch: 16, minBatch: 2 });
    await withFakeGpu({ GF_FAKE_OOM_ABOVE_BATCH: '4' }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const result = await handle.result();
      expect(trainBatchSizes(await handle.fetchHistory())).toEqual([16, 8, 4]);
      const run = await stack.mlflow.getRun(result.runId);
      expect(run.info.status).toBe('FINISHED');
      expect(metricsOf(run)).toMatchObject({ 'train.batch_size_effective': 4, 'oom.retries': 2 });
      expect(paramsOf(run)['train.batch_size']).toBe('16');
      expect(await handle.query(progressQuery)).toMatchObject({ batchSize: 4, oomRetries: 2 });
    });
  });

  it('stops halving at training.min_batch_size, trying the floor itself: OutOfMemory, run FAILED (issue 16 #4: 48 → 24 → 16)', async () => {
    const scenario = trainScenario({ version: 'oomfloor', dataPath: NO_DATA, batch: 48, minBatch: 16 });
    await withFakeGpu({ GF_FAKE_FAIL: 'oom', GF_FAKE_FAIL_AT_EPOCH: '2' }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const cause = rootCause(await failureOf(handle.result()));
      expect((cause as ApplicationFailure).type).toBe('OutOfMemory');
      expect(cause.message).toContain('CUDA out of memory');
      expect(trainBatchSizes(await handle.fetchHistory())).toEqual([48, 24, 16]);
      expect((await runOf(handle)).info.status).toBe('FAILED');
    });
  });

  it('cancellation kills the executor process and ends the run KILLED', async () => {
    const scenario = trainScenario({ version: 'cancel', dataPath: NO_DATA, epochs: 100 });
    await withFakeGpu({ GF_FAKE_EPOCH_SECONDS: '1' }, async () => {
      const handle = await startScenario(stack.client, scenario);
      const progress = await eventually(async () => {
        const p = await handle.query(progressQuery);
        return p.training && p.training.epoch >= 1 ? p : undefined;
      });
      const pidFile = path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.pid');
      const pid = Number(await readFile(pidFile, 'utf8'));
      expect(isAlive(pid)).toBe(true);
      await handle.cancel();
      const cause = await failureOf(handle.result());
      expect(cause).toBeInstanceOf(CancelledFailure);
      expect(isAlive(pid)).toBe(false);
      expect((await runOf(handle)).info.status).toBe('KILLED');
      expect((await handle.query(progressQuery)).phase).toBe('cancelled');
    });
  });

  it('a retried createRun reuses the run it made: exactly one MLflow run', async () => {
    const scenario = trainScenario({ version: 'retrycreate', dataPath: NO_DATA });
    await withFakeGpu({}, async () => {
      const handle = await startScenario(stack.client, scenario);
      const result = await handle.result();
      expect(mlflow.failures).toBe(1);
      const run = await stack.mlflow.getRun(result.runId);
      const sameKey = await stack.mlflow.searchRuns({
        experimentIds: [run.info.experiment_id],
        filter: `tags.\`${RUN_KEY_TAG}\` = '${tagsOf(run)[RUN_KEY_TAG]}'`,
      });
      expect(sameKey.map((r) => r.info.run_id)).toEqual([result.runId]);
      const named = await stack.mlflow.searchRuns({ experimentIds: [run.info.experiment_id], filter: `attributes.run_name = '${result.runName}'` });
      expect(named).toHaveLength(1);
      const history = await handle.fetchHistory();
      const createAttempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt === 2);
      expect(createAttempts.length).toBeGreaterThanOrEqual(1);
    });
  });

  it('starts from the plain Temporal CLI with a JSON input, and refuses an invalid one before any run', async () => {
    const scenario = trainScenario({ version: 'plaincli', dataPath: NO_DATA });
    const dir = os.tmpdir();
    const inputFile = path.join(dir, `gflow-plain-${process.pid}.json`);
    await writeFile(inputFile, JSON.stringify({ scenario }));
    const temporal = path.join(path.dirname(stack.settings.python), 'temporal');
    const id = workflowId(scenario);
    await withFakeGpu({}, async () => {
      const start = (wfId: string, file: string) =>
        promisify(execFile)(temporal, ['workflow', 'start', '--address', stack.settings.temporal.address, '--type', WorkflowType.singleRun,
          '--task-queue', CONTROL_QUEUE, '--workflow-id', wfId, '--input-file', file]);
      await start(id, inputFile);
      const result = await stack.client.workflow.getHandle<typeof singleRun>(id).result();
      expect((await stack.mlflow.getRun(result.runId)).info.status).toBe('FINISHED');

      const badFile = path.join(dir, `gflow-plain-bad-${process.pid}.json`);
      await writeFile(badFile, JSON.stringify({ scenario: { ...scenario, model: { ...scenario.model, input_size: 650 } } }));
      await start(`${id}-bad`, badFile);
      const cause = rootCause(await failureOf(stack.client.workflow.getHandle(`${id}-bad`).result()));
      expect((cause as ApplicationFailure).type).toBe('InvalidScenario');
      expect(cause.message).toContain('model.input_size: expected a multiple of 32, got 650');
      const history = await stack.client.workflow.getHandle(`${id}-bad`).fetchHistory();
      expect(history.events!.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
    });
  });
});
