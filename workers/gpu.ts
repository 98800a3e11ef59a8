import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createGpuActivities, type GpuDeps } from '../activities/gpu/activities';
import { createLegacyActivities } from '../activities/legacy/activities';
import { createStorageActivities } from '../activities/storage/activities';
import { createS3Client } from '../activities/storage/s3-client';
import { logSteps } from '../activities/tracking/activities';
import { mlflowClientFor } from '../activities/tracking/mlflow-client';
import { gpuHostQueue, gpuPoolQueue, trainingProgressSignal } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';

/** The Python executors shipped with this repo (the GPU host runs them from here). */
export const EXECUTORS_DIR = path.resolve(__dirname, '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []), 'executors');

export interface GpuWorkerOptions {
  settings: Settings;
  connection: NativeConnection;
  /** Used to report epoch progress to the workflow that started a job. */
  client: Client;
  /** Tests swap executors and add fault-injection environment. */
  executors?: Partial<GpuDeps['executors']>;
  env?: NodeJS.ProcessEnv;
  heartbeatIntervalMs?: number;
}

/**
 * One GPU host: a worker on the pool queue running at most `slots` jobs at once, and a worker
 * on this host's own queue for the follow-up uploads of files the jobs wrote here.
 */
export async function createGpuWorkers(opts: GpuWorkerOptions): Promise<Worker[]> {
  const { settings, connection, client } = opts;
  const { pool, hostId, slots, workDir } = settings.gpu;
  const mlflow = mlflowClientFor(settings);
  const hostQueue = gpuHostQueue(pool, hostId);
  const s3 = createS3Client(settings.s3);
  const gpu = createGpuActivities({
    python: settings.python,
    executors: {
      train: path.join(EXECUTORS_DIR, 'train.py'),
      benchmark: path.join(EXECUTORS_DIR, 'benchmark.py'),
      export: path.join(EXECUTORS_DIR, 'export.py'),
      ...opts.executors,
    },
    models: { mlflow, s3, store: settings.s3 },
    workDir,
    yoloConfigDir: settings.gpu.yoloConfigDir,
    hostQueue,
    logMetrics: (runId, steps) => logSteps(mlflow, runId, steps),
    reportProgress: (workflowId, progress) => client.workflow.getHandle(workflowId).signal(trainingProgressSignal, progress),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    env: opts.env,
  });
  const storage = createStorageActivities({
    s3,
    bucket: settings.s3.bucket,
    artifactsPrefix: settings.s3.artifactsPrefix,
    allowedRoots: [workDir],
  });
  // wrapped legacy scripts share the pool's slots with the executors
  const legacy = createLegacyActivities({
    python: settings.python,
    workDir,
    yoloConfigDir: settings.gpu.yoloConfigDir,
    trackingUri: settings.mlflow.url,
    hostQueue,
    logMetrics: (runId, steps) => logSteps(mlflow, runId, steps),
    uploadLog: async (artifactUri, file) => void (await storage.uploadArtifacts({ artifactUri, files: [file] })),
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    env: opts.env,
  });
  // the identity names the host, so the Web UI and histories show where each job ran
  const common = { connection, namespace: settings.temporal.namespace, identity: `${process.pid}@${hostId}` };
  return Promise.all([
    Worker.create({
      ...common,
      taskQueue: gpuPoolQueue(pool),
      activities: { ...gpu, ...legacy },
      maxConcurrentActivityTaskExecutions: slots,
      // a cancel reaches an activity only with a heartbeat's response: flush them every second so it is killed within seconds
      maxHeartbeatThrottleInterval: '1s',
      defaultHeartbeatThrottleInterval: '1s',
    }),
    Worker.create({ ...common, taskQueue: hostQueue, activities: storage }),
  ]);
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const clientConnection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection: clientConnection, namespace: settings.temporal.namespace });
  const workers = await createGpuWorkers({ settings, connection, client });
  const { pool, hostId, slots } = settings.gpu;
  console.log(`GPU worker ${hostId}: pool ${pool}, ${slots} slot(s), queues ${gpuPoolQueue(pool)} and ${gpuHostQueue(pool, hostId)}`);
  await Promise.all(workers.map((w) => w.run()));
  await clientConnection.close();
  await connection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
