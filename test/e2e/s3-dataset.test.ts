import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { DOWNLOAD_LOG } from '../../activities/gpu/dataset-cache';
import { CONTROL_QUEUE, WorkflowType } from '../../common/contract';
import { workflowId } from '../../scenarios/naming';
import { createControlWorker } from '../../workers/control';
import type { singleRun } from '../../workflows/single-run';
import { gflow } from '../support/cli';
import { startGpuWorkerProcess } from '../support/gpu-process';
import { connectStack, metricsOf, syntheticDataset, tagsOf, trainScenario, workflowBundle, type Stack } from '../support/harness';

/**
 * A real ultralytics training on a dataset that only the object store holds (issue 14 item 1):
 * pushed with bin/gflow, the local folder deleted, trained by a GPU worker process (dist/, as on a
 * GPU host, its cache from GF_DATA_CACHE). The executor trains on the host's checked copy.
 */

jest.setTimeout(10 * 60_000);

let stack: Stack;
let host: ChildProcess | undefined;

beforeAll(async () => {
  stack = await connectStack();
});

afterAll(async () => {
  if (host?.exitCode === null) host.kill('SIGKILL');
  await stack?.close();
});

it('trains one epoch on an s3:// dataset from the host cache, recorded with its URI and digest', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-s3-e2e-'));
  const dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 16, val: 8, classes: ['helmet', 'vest', 'harness'] });
  const version = `v${Date.now()}`;
  const pushed = await gflow(stack.settings, ['data', 'push', path.dirname(dataYaml), '--name', 'e2e-co/ppe', '--version', version]);
  expect(pushed.code).toBe(0);
  const uri = pushed.stdout.trim();
  // nothing local is left: the training can only have the object store's copy
  await rm(path.join(dir, 'shapes'), { recursive: true });

  const workDir = path.join(dir, 'host', 'work');
  const cache = path.join(dir, 'host', 'cache');
  host = await startGpuWorkerProcess(dir, 'gpu-host', { GF_GPU_HOST_ID: 's3-host', GF_WORK_DIR: workDir, GF_DATA_CACHE: cache, GF_DATA_CACHE_MAX_GB: '1' });
  const scenario = trainScenario({ version: 's3data_e2e', dataPath: uri, epochs: 1 });
  const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
  const result = await control.runUntil(
    stack.client.workflow.execute<typeof singleRun>(WorkflowType.singleRun, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario }] }),
  );

  const run = await stack.mlflow.getRun(result.runId);
  expect(run.info.status).toBe('FINISHED');
  expect(metricsOf(run)['det.mAP50']).toBeGreaterThanOrEqual(0);
  const [line] = (await readFile(path.join(cache, DOWNLOAD_LOG), 'utf8')).split('\n');
  const sha256 = line.split(' ').at(-1);
  expect(tagsOf(run)).toMatchObject({ 'data.uri': uri, 'data.sha256': sha256, 'sys.host': 's3-host' });
  // ultralytics was given the cached data.yaml, whose path: is its cache folder
  const args = parse(await readFile(path.join(workDir, result.runId, 'train', 'args.yaml'), 'utf8')) as { data: string };
  expect(path.dirname(args.data).startsWith(cache + path.sep)).toBe(true);
  expect((parse(await readFile(args.data, 'utf8')) as { path: string }).path).toBe(path.dirname(args.data));
  expect(await readFile(path.join(dir, 'gpu-host.log'), 'utf8')).toContain(`dataset ${uri}: downloading 49 files`);
});
