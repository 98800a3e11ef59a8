import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { createGpuActivities, TrainInput, TrainResult } from '../../activities/gpu/activities';
import type { createReportActivities } from '../../activities/reports/activities';
import type { createStorageActivities } from '../../activities/storage/activities';
import type { createTrackingActivities, RunStatus } from '../../activities/tracking/activities';
import { CONTROL_QUEUE, gpuPoolQueue, trainingProgressSignal } from '../../common/contract';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';
import { withWorkers, workflowBundle } from '../support/harness';

/**
 * Stand-ins for the activities the workflows call (workflows/proxies.ts), typed by the real
 * activity factories so a changed signature fails the type check here too. They keep what they
 * were asked in memory, so a test reads the MLflow runs a workflow would have written.
 */

type Tracking = ReturnType<typeof createTrackingActivities>;
type Storage = ReturnType<typeof createStorageActivities>;
type Reports = ReturnType<typeof createReportActivities>;
type Gpu = ReturnType<typeof createGpuActivities>;

export type ControlActivities = Pick<Tracking, 'ensureExperiment' | 'createRun' | 'logBatch' | 'endRun' | 'registerModel'> &
  Pick<Storage, 'uploadText' | 'uploadCsv' | 'uploadArtifacts'> &
  Pick<Reports, 'sweepReport'>;

export interface FakeRun {
  runId: string;
  name: string;
  tags: Record<string, string>;
  metrics: Record<string, number>;
  status?: RunStatus;
}

/** An in-memory MLflow: runs by id, created once per run key (as the real activity does). */
export class FakeMlflow {
  readonly runs = new Map<string, FakeRun>();
  private readonly byKey = new Map<string, string>();

  activities(overrides: Partial<ControlActivities> = {}): ControlActivities {
    return {
      ensureExperiment: () => Promise.resolve('1'),
      createRun: (input) => {
        const existing = this.byKey.get(input.runKey);
        if (existing) return Promise.resolve({ runId: existing, artifactUri: `mlflow-artifacts:/1/${existing}/artifacts`, created: false });
        const runId = (this.runs.size + 1).toString(16).padStart(32, '0');
        this.byKey.set(input.runKey, runId);
        this.runs.set(runId, { runId, name: input.runName, tags: input.tags, metrics: {} });
        return Promise.resolve({ runId, artifactUri: `mlflow-artifacts:/1/${runId}/artifacts`, created: true });
      },
      logBatch: (input) => {
        const run = this.runs.get(input.runId);
        if (run) Object.assign(run.metrics, input.metrics);
        if (run && input.tags) Object.assign(run.tags, input.tags);
        return Promise.resolve();
      },
      endRun: ({ runId, status }) => {
        const run = this.runs.get(runId);
        if (run) run.status = status;
        return Promise.resolve();
      },
      registerModel: ({ name, alias }) => Promise.resolve({ name, version: '1', alias }),
      uploadText: ({ artifactUri, artifactPath }) => Promise.resolve(`${artifactUri}/${artifactPath}`),
      uploadCsv: ({ artifactUri, artifactPath }) => Promise.resolve(`${artifactUri}/${artifactPath}`),
      uploadArtifacts: ({ files }) => Promise.resolve(files.map((f) => f.artifactPath)),
      sweepReport: () => Promise.resolve({ trials: 0, csvKey: 'results.csv', chartKey: 'sweep_chart.png' }),
      ...overrides,
    };
  }

  /** Each run's end status, by run name. */
  statuses(): Record<string, RunStatus | undefined> {
    return Object.fromEntries([...this.runs.values()].map((r) => [r.name, r.status]));
  }
}

export interface FakeTrainOptions {
  /** The final metric of a trial (`det.mAP50_95`); each epoch reports `value × epoch / epochs`. */
  value?: (input: TrainInput) => number;
  /** Seconds per epoch (default 0.05). */
  epochSeconds?: (input: TrainInput) => number;
  /** Thrown at the first epoch instead of training. */
  failure?: (input: TrainInput, attempt: number) => Error | undefined;
  /** Attempts that heartbeat once and then hang without heartbeats (a host that died). */
  silentAttempts?: number[];
}

/**
 * A GPU `train` that behaves like the real one as the workflow sees it: heartbeats, reports
 * each epoch by signal, ends cancelled when cancelled, returns its metrics and host queue.
 */
export function fakeTrain(client: Client, opts: FakeTrainOptions = {}): Pick<Gpu, 'train'> {
  return {
    async train(input: TrainInput): Promise<TrainResult> {
      const ctx = Context.current();
      const { epochs } = input.scenario.training!;
      const failure = opts.failure?.(input, ctx.info.attempt);
      if (failure) throw failure;
      if (opts.silentAttempts?.includes(ctx.info.attempt)) {
        ctx.heartbeat(0);
        await ctx.sleep(60_000);
      }
      const value = opts.value?.(input) ?? 0.5;
      const workflowId = ctx.info.workflowExecution!.workflowId;
      for (let epoch = 1; epoch <= epochs; epoch++) {
        ctx.heartbeat(epoch);
        await ctx.sleep((opts.epochSeconds?.(input) ?? 0.05) * 1000);
        const metrics = { 'det.mAP50_95': (value * epoch) / epochs };
        await client.workflow.getHandle(workflowId).signal(trainingProgressSignal, { epoch, epochs, metrics });
      }
      return { hostQueue: CONTROL_QUEUE, epochsCompleted: epochs, batchSize: input.batchSize ?? input.scenario.training!.batch_size, metrics: { 'det.mAP50_95': value }, files: [] };
    },
  };
}

let bundle: ReturnType<typeof workflowBundle> | undefined;

/**
 * Runs `fn` while a control worker (every workflow, the control activities) and a GPU worker
 * (the default pool's queue) poll the test server, then shuts both down.
 */
export async function withMockedWorkers<T>(
  env: TestWorkflowEnvironment,
  activities: { control: ControlActivities; gpu: Partial<Gpu> },
  fn: () => Promise<T>,
): Promise<T> {
  bundle ??= workflowBundle();
  const connection = env.nativeConnection;
  const control = await Worker.create({ connection, taskQueue: CONTROL_QUEUE, workflowBundle: await bundle, activities: activities.control });
  const gpu = await Worker.create({
    connection,
    taskQueue: gpuPoolQueue('default'),
    activities: activities.gpu,
    // as the real GPU worker: a cancel reaches a running job within a second
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
  });
  return withWorkers([control, gpu], fn);
}

/** Ends whatever a failed test left running, so it cannot act on the next test's mocks. */
export async function terminateRunning(client: Client): Promise<void> {
  for await (const execution of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
    await client.workflow.getHandle(execution.workflowId, execution.runId).terminate('test ended').catch(() => undefined);
  }
}

/**
 * A `train` scenario `logic-<version>` of the logic tests' site task (logic-co/ci-lab/bench, ppe
 * on a dataset no mocked activity reads); `blocks` is the rest of its YAML (design, training, …).
 */
export function logicScenario(version: string, blocks: string): Scenario {
  return parseScenarioText(`
name: logic-${version}
version: ${version}
type: train
site: { customer: logic-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
${blocks}
`);
}
