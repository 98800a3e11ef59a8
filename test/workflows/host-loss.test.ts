import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CONTROL_QUEUE, progressQuery, WorkflowType } from '../../common/contract';
import { workflowId } from '../../scenarios/naming';
import { WorkflowFailedError } from '@temporalio/client';
import { parseScenarioText } from '../../scenarios/loader';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import type { singleRun } from '../../workflows/single-run';
import { startGpuWorkerProcess } from '../support/gpu-process';
import { artifactKeys, connectStack, eventually, FAKE_EXECUTOR, FAKE_QUANT, isAlive, syntheticDataset, tagsOf, trainScenario, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * A GPU host that dies for good mid-training (issue 11 item 2), with real ultralytics: two GPU
 * workers as two hosts, each its own process with its own host id and work folder (nothing shared
 * but the servers). Host A trains and uploads each epoch's checkpoint to the run's S3 folder;
 * it is killed; the retry lands on host B, which has never seen the run, downloads the checkpoint
 * and resumes: one MLflow run, every epoch recorded, at most one epoch trained twice.
 */

jest.setTimeout(10 * 60_000);

let stack: Stack;
let dir: string;
const hosts: ChildProcess[] = [];

/** A GPU worker process as on its own host: its own id and work folder. */
async function startHost(hostId: string): Promise<{ child: ChildProcess; workDir: string }> {
  const workDir = path.join(dir, hostId, 'work');
  const child = await startGpuWorkerProcess(dir, hostId, { GF_GPU_HOST_ID: hostId, GF_WORK_DIR: workDir });
  hosts.push(child);
  return { child, workDir };
}

/** The train activity's latest heartbeat details, as Temporal holds them for the pending activity. */
async function trainHeartbeat(id: string): Promise<{ epoch: number; uploadedEpoch?: number } | undefined> {
  const { raw } = await stack.client.workflow.getHandle(id).describe();
  const payload = raw.pendingActivities?.find((a) => a.activityType?.name === 'train')?.heartbeatDetails?.payloads?.[0];
  return payload?.data ? (JSON.parse(Buffer.from(payload.data).toString('utf8')) as { epoch: number; uploadedEpoch?: number }) : undefined;
}

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-hosts-'));
});

/** Stops the GPU host processes: their pool workers would otherwise take the next test's jobs. */
function stopHosts(): void {
  for (const child of hosts) if (child.exitCode === null) child.kill('SIGKILL');
}

afterEach(stopHosts);

afterAll(async () => {
  await stack?.close();
});

it('host A dies for good mid-training: host B downloads the last uploaded checkpoint and finishes the same run', async () => {
  // epochs of a few seconds (96 images), so a checkpoint's upload keeps up with them as on a real GPU
  const dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 96, val: 16, classes: ['helmet', 'vest', 'harness'] });
  const scenario = trainScenario({ version: 'host-loss', dataPath: dataYaml, epochs: 8 });
  const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
  await control.runUntil(async () => {
    const hostA = await startHost('host-a');
    const handle = await stack.client.workflow.start<typeof singleRun>(WorkflowType.singleRun, {
      taskQueue: CONTROL_QUEUE,
      workflowId: workflowId(scenario),
      args: [{ scenario, gpuHeartbeatTimeout: '5s' }],
    });
    const progress = await eventually(async () => {
      const p = await handle.query(progressQuery);
      return p.training && p.training.epoch >= 3 ? p : undefined;
    }, 180_000, 'epoch 3 on host A');
    const runId = progress.runId!;
    const run = await stack.mlflow.getRun(runId);
    // host A's training is frozen (SIGSTOP) mid-training, so its last checkpoint's upload catches up however slow this
    // machine's S3 is next to its epochs; host A goes once its heartbeat says that checkpoint reached S3
    const executorPid = Number(await readFile(path.join(hostA.workDir, runId, 'executor.pid'), 'utf8'));
    process.kill(executorPid, 'SIGSTOP');
    const frozenAt = (await handle.query(progressQuery)).training!.epoch;
    // mid-training: a checkpoint of the last epoch is a finished training (validated, not resumed, on the next host)
    expect(frozenAt).toBeLessThan(8);
    await eventually(async () => {
      const beat = await trainHeartbeat(handle.workflowId);
      return beat?.uploadedEpoch !== undefined && beat.uploadedEpoch >= frozenAt ? true : undefined;
    }, 120_000, `the uploaded checkpoint of epoch ${frozenAt}`);
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toContain('checkpoints/last.pt');
    hostA.child.kill('SIGKILL');
    await once(hostA.child, 'exit');
    // the orphaned executor, resumed, sees its parent gone and stops by itself
    process.kill(executorPid, 'SIGCONT');
    const killedAtEpoch = (await handle.query(progressQuery)).training!.epoch;

    const hostB = await startHost('host-b');
    const result = await handle.result();
    expect(result.runId).toBe(runId);
    expect((await stack.mlflow.getRun(runId)).info.status).toBe('FINISHED');

    // host B had no copy of the run: it resumed from the downloaded checkpoint, in its own folder
    const executorLog = await readFile(path.join(hostB.workDir, runId, 'executor.log'), 'utf8');
    expect(executorLog).toMatch(new RegExp(`Resuming training .*${path.join(hostB.workDir, runId, 'resume', 'inputs', 'last.pt').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} from epoch \\d`));
    const steps = (await stack.mlflow.getMetricHistory(runId, 'det.box_loss')).map((m) => m.step);
    expect([...new Set(steps)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const twice = [...new Set(steps.filter((s, i) => steps.indexOf(s) !== i))];
    expect(twice.length).toBeLessThanOrEqual(1);
    expect(twice.every((s) => s >= killedAtEpoch - 1)).toBe(true);

    // one train attempt after the first, taken by host B; the weights came from host B
    const events = (await handle.fetchHistory()).events!;
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train').map((e) => String(e.eventId));
    const started = events.filter((e) => scheduled.includes(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
    expect(started.map((e) => [e.activityTaskStartedEventAttributes!.attempt, e.activityTaskStartedEventAttributes!.identity])).toEqual([[2, expect.stringMatching(/@host-b$/)]]);
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toEqual(expect.arrayContaining(['weights/best.pt', 'results.csv', 'checkpoints/last.pt']));
    expect(isAlive(executorPid)).toBe(false);
  });
});

describe('a host gone after its job ended (its own queue never takes the upload)', () => {
  /** The control worker and a GPU host's pool worker, without the host's upload worker: the host died right after its job. */
  async function withHostGoneAfterJobs<T>(fn: () => Promise<T>): Promise<T> {
    const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
    const [pool, uploads] = await createGpuWorkers({
      settings: { ...stack.settings, gpu: { ...stack.settings.gpu, hostId: 'host-gone' } },
      connection: stack.nativeConnection,
      client: stack.client,
      executors: { train: FAKE_EXECUTOR, export: FAKE_QUANT, benchmark: FAKE_QUANT },
      heartbeatIntervalMs: 500,
    });
    // the host's upload worker starts and stops at once: its queue has no worker from then on
    await uploads.runUntil(Promise.resolve());
    return withWorkers([control, pool], fn);
  }

  it('a training falls back to its uploaded last checkpoint, says so on the run, and registers it', async () => {
    const scenario = trainScenario({ version: 'host_gone_fit', dataPath: '/nonexistent/data.yaml', epochs: 3 });
    const result = await withHostGoneAfterJobs(() =>
      stack.client.workflow.execute<typeof singleRun>(WorkflowType.singleRun, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, hostUploadWait: '3s' }] }),
    );
    const run = await stack.mlflow.getRun(result.runId);
    expect(run.info.status).toBe('FINISHED');
    expect(tagsOf(run)['weights.fallback']).toMatch(/^checkpoints\/last\.pt \(epoch 3\): no worker of guardianflow-gpu-default@host-gone took the upload within 3s: the host is gone, and with it what only it had \(weights\/best\.pt, weights\/last\.pt, results\.csv, logs\/executor\.log\)$/);
    const version = await stack.mlflow.getModelVersion(result.model!.name, result.model!.version);
    expect(version?.source).toBe(`${run.info.artifact_uri}/checkpoints/last.pt`);
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toContain('checkpoints/last.pt');
  });

  it('a benchmark, whose results were only on that host, fails HostLost naming the host and the files, its run FAILED', async () => {
    // the stand-in benchmark reads a model file's figures from its JSON
    const weights = path.join(dir, 'model.pt');
    await writeFile(weights, JSON.stringify({ mAP50: 0.8, latency_ms: 20 }));
    const scenario = parseScenarioText(`
name: host-gone-bench
version: host_gone_bench
type: infer
site: { customer: test-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64, weights: ${weights} }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
benchmark: { batch_sizes: [1] }
`);
    const failed = await withHostGoneAfterJobs(() =>
      stack.client.workflow.execute<typeof singleRun>(WorkflowType.singleRun, { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, hostUploadWait: '3s' }] }).catch((err: unknown) => err),
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    const cause = (failed as WorkflowFailedError).cause;
    expect(cause).toMatchObject({ type: 'HostLost', message: expect.stringMatching(/^no worker of guardianflow-gpu-default@host-gone took the upload within 3s: the host is gone/) });
    const progress = await stack.client.workflow.getHandle(workflowId(scenario)).query(progressQuery).catch(() => undefined);
    const runs = await stack.mlflow.searchRuns({ experimentIds: [(await stack.mlflow.getExperimentByName('test-co/ci-lab/bench'))!.experiment_id], filter: `tags.\`gf.workflow_id\` = '${workflowId(scenario)}'` });
    expect(runs.map((r) => r.info.status)).toEqual(['FAILED']);
    expect(progress === undefined || progress.phase === 'failed').toBe(true);
  });
});
