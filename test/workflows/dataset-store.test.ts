import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { DOWNLOAD_LOG } from '../../activities/gpu/dataset-cache';
import { DatasetPushError, pushDataset } from '../../activities/storage/dataset-store';
import { createS3Client } from '../../activities/storage/s3-client';
import { CONTROL_QUEUE, WorkflowType } from '../../common/contract';
import type { Settings } from '../../common/settings';
import { connectTemporal } from '../../common/temporal-unreachable';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { Scenario } from '../../scenarios/schema';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import type { singleRun } from '../../workflows/single-run';
import type { sweep } from '../../workflows/sweep';
import { gflow, gflowInProcess } from '../support/cli';
import { childRuns, connectStack, FAKE_EXECUTOR, FAKE_QUANT, syntheticDataset, tagsOf, trainScenario, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * Datasets from the object store (issue 14 item 1) on the real stack: a dataset pushed with
 * `gflow data push` (bin/gflow) exists only in S3; two GPU hosts, each with its own host id, work
 * folder and dataset cache, run a sweep on it, each downloading it once; a byte flipped in one
 * object is caught as InvalidDataset naming the file, not retried. The stand-in executor checks it
 * got a local data.yaml whose `path:` holds the images (GF_FAKE_REQUIRE_DATA); the real
 * ultralytics training on an S3 dataset is test/e2e/s3-dataset.test.ts.
 */

jest.setTimeout(5 * 60_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let dir: string;
/** What `gflow data push` printed: the dataset's URI. */
let uri: string;
const version = `v${Date.now()}`;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-s3data-'));
  const dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 6, val: 2, classes: ['helmet', 'vest'] });
  const pushed = await gflow(stack.settings, ['data', 'push', path.dirname(dataYaml), '--name', 'test-co/ppe', '--version', version]);
  expect(pushed).toEqual({ code: 0, stdout: `s3://${stack.settings.s3.bucket}/datasets/test-co/ppe/${version}/data.yaml\n`, stderr: expect.stringMatching(new RegExp(`^pushed test-co/ppe ${version}: 17 files, [\\d.]+ MB, manifest sha256 [0-9a-f]{64}\\n$`)) });
  uri = pushed.stdout.trim();
});

afterAll(async () => {
  await stack?.close();
});

/** A GPU host of its own (host id, work folder, dataset cache), on its own connection as a process of its own would be. */
async function gpuHost(name: string): Promise<{ workers: Worker[]; cache: string; close: () => Promise<void> }> {
  const connection = await connectTemporal(stack.settings.temporal, (options) => NativeConnection.connect(options));
  const cache = path.join(dir, name, 'data-cache');
  const settings: Settings = { ...stack.settings, gpu: { ...stack.settings.gpu, hostId: name, slots: 1, devices: ['cpu'], workDir: path.join(dir, name, 'work'), dataCache: cache } };
  const workers = await createGpuWorkers({
    settings,
    connection,
    client: stack.client,
    executors: { train: FAKE_EXECUTOR, export: FAKE_QUANT, benchmark: FAKE_QUANT },
    env: { GF_FAKE_EPOCH_SECONDS: '0.5', GF_FAKE_REQUIRE_DATA: '1' },
    heartbeatIntervalMs: 500,
  });
  return { workers, cache, close: () => connection.close() };
}

const downloadsIn = async (cache: string) => (await readFile(path.join(cache, DOWNLOAD_LOG), 'utf8').catch(() => '')).split('\n').filter(Boolean);

function sweepOn(dataPath: string, runVersion: string): Scenario {
  return parseScenarioText(`
name: s3data-${runVersion}
version: ${runVersion}
type: train
design: sweep
site: { customer: test-co, region: ci, plant: lab, zone: s3data }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${dataPath}, version: ${version} }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 8, learning_rate: 0.01 }
sweep: { parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, parallel: 2, metric: det.mAP50 }
`);
}

/** A failure and every cause under it (workflow → child → activity → application failure). */
function failureChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

/** MLflow's dataset inputs of a run, as its REST API answers them (the MLflow UI's Datasets column). */
async function datasetInputs(runId: string): Promise<{ dataset: Record<string, string>; tags?: { key: string; value: string }[] }[]> {
  const run = (await stack.mlflow.getRun(runId)) as { inputs?: { dataset_inputs?: { dataset: Record<string, string>; tags?: { key: string; value: string }[] }[] } };
  return run.inputs?.dataset_inputs ?? [];
}

it('gflow data push refuses to overwrite a version, and gflow data list shows it', async () => {
  const again = await gflow(stack.settings, ['data', 'push', path.join(dir, 'shapes'), '--name', 'test-co/ppe', '--version', version]);
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(new RegExp(`^gflow: ${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} exists \\(pushed .+, sha256 [0-9a-f]{64}\\): a version is immutable; push a new --version\\n$`));
  const listed = await gflow(stack.settings, ['data', 'list', '--json']);
  const entry = (JSON.parse(listed.stdout) as { uri: string }[]).find((v) => v.uri === uri);
  // 6 + 2 images and their labels, and data.yaml
  expect(entry).toMatchObject({ name: 'test-co/ppe', version, files: 17, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
  expect((await gflow(stack.settings, ['data', 'list'])).stdout).toMatch(new RegExp(`test-co/ppe +${version} +17 +[\\d.]+ +\\S+ +${uri.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
});

it('of two pushes of one version at once, one wins and the other is refused', async () => {
  const s3 = createS3Client(stack.settings.s3);
  const both = await Promise.allSettled([1, 2].map(() => pushDataset(s3, stack.settings.s3.bucket, { folder: path.join(dir, 'shapes'), name: 'test-co/ppe', version: `${version}-race` })));
  s3.destroy();
  expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  expect((both.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(DatasetPushError);
});

it('a scenario naming a dataset version nobody pushed is refused before it starts, naming the field', async () => {
  const missing = uri.replace(version, 'v-never-pushed');
  const file = path.join(dir, 'missing.yaml');
  await writeFile(file, `name: s3data-missing
version: missing
type: train
site: { customer: test-co, region: ci, plant: lab, zone: s3data }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: ${missing}, version: v0 }
training: { epochs: 1, batch_size: 8, learning_rate: 0.01 }
`);
  const err = await gflowInProcess(stack.settings, 'validate', file);
  expect(err).toMatchObject({ exitCode: 2, message: expect.stringContaining(`dataset.path: ${missing}: no manifest at ${missing.replace('data.yaml', 'gflow-manifest.json')}: push the dataset with gflow data push`) });
  expect(await gflowInProcess(stack.settings, 'validate', file, '--no-check-files')).toBe('ok');
});

it('two hosts run a sweep on a dataset only S3 holds: each downloads it once, every trial records it', async () => {
  const scenario = sweepOn(uri, 's3sweep');
  const hostA = await gpuHost('host-a');
  const hostB = await gpuHost('host-b');
  const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle });
  try {
    const result = await withWorkers([control, ...hostA.workers, ...hostB.workers], () =>
      stack.client.workflow.execute<typeof sweep>(WorkflowType.sweep, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] }),
    );
    const trialErrors = await Promise.all([0, 1, 2, 3].map((i) => stack.client.workflow.getHandle(`${workflowId(scenario)}/trial-${i}`).result().then(() => 'ok', (err: unknown) => failureChain(err).map((e) => (e as Error).message).join(' <- '))));
    expect({ ...result, trialErrors }).toMatchObject({ total: 4, done: 4, failed: 0, trialErrors: ['ok', 'ok', 'ok', 'ok'] });
    // parallel 2 on two one-slot hosts: both took trials, and each fetched the dataset once
    for (const cache of [hostA.cache, hostB.cache]) expect(await downloadsIn(cache)).toEqual([expect.stringContaining(` ${uri} `)]);
    const sha256 = (await downloadsIn(hostA.cache))[0].split(' ').at(-1)!;
    expect((await downloadsIn(hostB.cache))[0].endsWith(` ${sha256}`)).toBe(true);

    const trials = await childRuns(stack, result.runId);
    expect(trials).toHaveLength(4);
    for (const trial of trials) {
      expect(trial.info.status).toBe('FINISHED');
      expect(tagsOf(trial)).toMatchObject({ 'data.uri': uri, 'data.sha256': sha256, 'data.path': uri });
      expect(await datasetInputs(trial.info.run_id)).toEqual([
        {
          dataset: expect.objectContaining({ name: `test-co/ppe@${version}`, digest: sha256.slice(0, 32), source_type: 's3', source: JSON.stringify({ uri }) }),
          tags: [{ key: 'mlflow.data.context', value: 'training' }],
        },
      ]);
    }
  } finally {
    await hostA.close();
    await hostB.close();
  }
});

it('a byte flipped in one object fails the job InvalidDataset naming the file, not retried, its run FAILED', async () => {
  const s3 = createS3Client(stack.settings.s3);
  const key = uri.slice(`s3://${stack.settings.s3.bucket}/`.length).replace('data.yaml', 'labels/train/train_00003.txt');
  const object = await s3.send(new GetObjectCommand({ Bucket: stack.settings.s3.bucket, Key: key })).catch(async () => {
    throw new Error(`no ${key}; the dataset has: ${(await gflow(stack.settings, ['data', 'list', '--json'])).stdout}`);
  });
  const bytes = Buffer.from(await object.Body!.transformToByteArray());
  bytes[0] ^= 0x01;
  await s3.send(new PutObjectCommand({ Bucket: stack.settings.s3.bucket, Key: key, Body: bytes }));
  s3.destroy();

  // a host that joins now has no copy yet: it downloads, and the check catches the changed object
  const scenario = trainScenario({ version: 's3data_corrupt', dataPath: uri });
  const hostC = await gpuHost('host-c');
  const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle });
  try {
    const failed = await withWorkers([control, ...hostC.workers], () =>
      stack.client.workflow.execute<typeof singleRun>(WorkflowType.singleRun, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] }).catch((err: unknown) => err),
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    const cause = failureChain(failed).find((e) => (e as { type?: string }).type === 'InvalidDataset');
    expect(cause).toMatchObject({ type: 'InvalidDataset', nonRetryable: true, message: expect.stringMatching(new RegExp(`^s3://${stack.settings.s3.bucket}/${key.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}: the object changed since it was pushed$`)) });
    const history = await stack.client.workflow.getHandle(workflowId(scenario)).fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== 1)).toEqual([]);
    expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train')).toHaveLength(1);
    const experiment = await stack.mlflow.getExperimentByName('test-co/ci-lab/bench');
    const runs = await stack.mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`gf.workflow_id\` = '${workflowId(scenario)}'` });
    expect(runs.map((r) => r.info.status)).toEqual(['FAILED']);
    expect(await downloadsIn(hostC.cache)).toEqual([]);
  } finally {
    await hostC.close();
  }
});
