import { NativeConnection, bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { temporal as proto } from '@temporalio/proto';
import { CONTROL_QUEUE } from '../../common/contract';
import type { Settings } from '../../common/settings';
import { connectTemporal } from '../../common/temporal-unreachable';
import { buildIdOf, currentBuildId, setCurrentVersion, type DeploymentView } from '../../common/worker-deployment';
import { mlflowClientFor, type MlflowClient } from '../../activities/tracking/mlflow-client';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { sweep } from '../../workflows/sweep';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { gflowPrinted, temporalCli } from '../support/cli';
import { connectStack, eventually, FAKE_EXECUTOR, withWorkers, workflowBundle, type Stack } from '../support/harness';

/**
 * Worker Versioning on the dev server (issue 17): a sweep starts on build A; build B, whose sweep
 * begins with a timer A's histories lack (replaying A's run there is a nondeterminism error),
 * comes up and is made current while the sweep's first run is still in flight. That run finishes
 * on A, the sweep's next run (continue-as-new) starts on B, a new sweep starts on B, and
 * `temporal workflow describe` and `gflow version` show which build runs what.
 */

jest.setTimeout(6 * 60_000);

let stack: Stack;
const tag = Date.now().toString(36);
const BUILD_A = `vtest-a-${tag}`;
const BUILD_B = `vtest-b-${tag}`;
const EventType = proto.api.enums.v1.EventType;

beforeAll(async () => {
  stack = await connectStack();
});

afterAll(async () => {
  await stack?.close();
});

/** The later test files' workers are of the stack's build (global setup made it current): make it current again. */
async function restoreStackBuild(): Promise<void> {
  const { namespace } = stack.settings.temporal;
  const version = { deploymentName: stack.settings.deployment.name, buildId: buildIdOf(stack.settings) };
  await setCurrentVersion(stack.client.workflowService, namespace, version, { allowNoPollers: true, ignoreMissingTaskQueues: true });
  expect(await currentBuildId(stack.client.workflowService, namespace, version.deploymentName)).toBe(version.buildId);
}

const sweepScenario = (version: string) =>
  parseScenarioText(`
name: versioning
version: ${version}
type: train
design: sweep
site: { customer: versioning-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01, plots: false }
sweep: { parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, parallel: 1 }
`);

/** A sweep of four trials that continues as new after two (its first run holds two, the next two more). */
async function startSweep(version: string) {
  const scenario = sweepScenario(version);
  return stack.client.workflow.start<typeof sweep>('sweep', { taskQueue: CONTROL_QUEUE, workflowId: workflowId(scenario), args: [{ scenario, trialsPerRun: 2 }] });
}

/** The build id an execution runs on, as the server records it. */
async function buildOf(id: string, runId?: string): Promise<string | undefined> {
  const described = await stack.client.workflow.getHandle(id, runId).describe();
  return described.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId ?? undefined;
}

async function eventTypes(id: string, runId: string): Promise<proto.api.enums.v1.EventType[]> {
  const history = await stack.client.workflow.getHandle(id, runId).fetchHistory();
  return (history.events ?? []).map((e) => e.eventType ?? EventType.EVENT_TYPE_UNSPECIFIED);
}

/** Control and GPU workers of one build, on their own connection (one worker per task queue and connection). */
async function buildWorkers(settings: Settings, connection: NativeConnection, bundle: { code: string }, mlflow?: MlflowClient): Promise<Worker[]> {
  const control = await createControlWorker({ settings, connection, workflowBundle: bundle, mlflow });
  const gpu = await createGpuWorkers({ settings, connection, client: stack.client, executors: { train: FAKE_EXECUTOR }, env: { GF_FAKE_EPOCH_SECONDS: '0.05' }, heartbeatIntervalMs: 500 });
  return [control, ...gpu];
}

/** MLflow whose createRun waits for `open()`: build A's sweep is held before its first trial until B is current. */
function gatedMlflow(settings: Settings) {
  const mlflow = mlflowClientFor(settings);
  let open!: () => void;
  let reached!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const waiting = new Promise<void>((resolve) => (reached = resolve));
  const createRun = mlflow.createRun.bind(mlflow);
  mlflow.createRun = async (args) => {
    reached();
    await gate;
    return createRun(args);
  };
  return { mlflow, open, waiting };
}

it('a pinned sweep finishes its run on build A, continues as new on build B, and a new sweep starts on B', async () => {
  const { namespace } = stack.settings.temporal;
  const deploymentName = stack.settings.deployment.name;
  const settingsOf = (buildId: string): Settings => ({ ...stack.settings, deployment: { name: deploymentName, buildId } });
  const bundleB = { code: (await bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/workflows-build-b'), logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } })).code };
  const gated = gatedMlflow(stack.settings);
  const workersA = await buildWorkers(settingsOf(BUILD_A), stack.nativeConnection, await workflowBundle(), gated.mlflow);
  const connectionB = await connectTemporal(stack.settings.temporal, (options) => NativeConnection.connect(options));

  try {
    await withWorkers(workersA, async () => {
      // earlier test files' GPU hosts (other host queues) are not A's: let them go
      await setCurrentVersion(stack.client.workflowService, namespace, { deploymentName, buildId: BUILD_A }, { ignoreMissingTaskQueues: true, timeoutMs: 60_000 });
      const first = await startSweep('va');
      await gated.waiting;

      const workersB = await buildWorkers(settingsOf(BUILD_B), connectionB, bundleB);
      await withWorkers(workersB, async () => {
        // B polls every task queue A does: no protection overridden
        expect(await setCurrentVersion(stack.client.workflowService, namespace, { deploymentName, buildId: BUILD_B }, { timeoutMs: 60_000 })).toBe(true);

        const shown = await eventually(
          async () => {
            const view = JSON.parse(await gflowPrinted(stack.settings, 'version', '--json')) as DeploymentView & { thisBuild: string };
            return view.versions.find((v) => v.buildId === BUILD_A)?.running === 1 ? view : undefined;
          },
          60_000,
          'gflow version: the held sweep running on A',
        );
        expect(shown).toEqual(expect.objectContaining({ deployment: deploymentName, current: BUILD_B, thisBuild: buildIdOf(stack.settings) }));
        expect(shown.versions.find((v) => v.buildId === BUILD_B)).toEqual(expect.objectContaining({ status: 'current' }));
        expect(shown.versions.find((v) => v.buildId === BUILD_A)).toEqual(expect.objectContaining({ status: 'draining', running: 1 }));
        expect(await gflowPrinted(stack.settings, 'version')).toContain(`current ${BUILD_B}`);

        gated.open();
        const second = await startSweep('vb');
        const [resultA, resultB] = await Promise.all([first.result(), second.result()]);
        expect(resultA).toEqual(expect.objectContaining({ total: 4, done: 4, failed: 0 }));
        expect(resultB).toEqual(expect.objectContaining({ total: 4, done: 4, failed: 0 }));

        const runs: { runId: string; status: string }[] = [];
        for await (const e of stack.client.workflow.list({ query: `WorkflowId = '${first.workflowId}'` })) runs.push({ runId: e.runId, status: e.status.name });
        expect(runs).toHaveLength(2);
        const firstRunId = first.firstExecutionRunId;
        const laterRunId = runs.find((r) => r.runId !== firstRunId)!.runId;
        expect(runs.find((r) => r.runId === firstRunId)?.status).toBe('CONTINUED_AS_NEW');

        // the first run stayed on A (B's code would have failed its replay), the next one is B's
        expect(await buildOf(first.workflowId, firstRunId)).toBe(BUILD_A);
        expect(await buildOf(first.workflowId, laterRunId)).toBe(BUILD_B);
        expect(await buildOf(second.workflowId)).toBe(BUILD_B);
        const histories = { firstRun: await eventTypes(first.workflowId, firstRunId), laterRun: await eventTypes(first.workflowId, laterRunId), newSweep: await eventTypes(second.workflowId, second.firstExecutionRunId) };
        for (const events of Object.values(histories)) expect(events.filter((t) => t === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
        expect(histories.firstRun).not.toContain(EventType.EVENT_TYPE_TIMER_STARTED);
        expect(histories.laterRun).toContain(EventType.EVENT_TYPE_TIMER_STARTED);
        expect(histories.newSweep).toContain(EventType.EVENT_TYPE_TIMER_STARTED);

        // the Temporal CLI sees the same
        const described = async (args: string[]) => {
          const run = await temporalCli(stack.settings, ['workflow', 'describe', ...args, '--output', 'json']);
          expect(run.code).toBe(0);
          return (JSON.parse(run.stdout) as { workflowExecutionInfo: { versioningInfo?: { deploymentVersion?: { buildId?: string } } } }).workflowExecutionInfo.versioningInfo?.deploymentVersion?.buildId;
        };
        expect(await described(['--workflow-id', first.workflowId, '--run-id', firstRunId])).toBe(BUILD_A);
        expect(await described(['--workflow-id', first.workflowId])).toBe(BUILD_B);
        expect(await described(['--workflow-id', second.workflowId])).toBe(BUILD_B);
      });
    });
  } finally {
    await connectionB.close();
    await restoreStackBuild();
  }
});
