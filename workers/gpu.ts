import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createGpuActivities, type GpuDeps } from '../activities/gpu/activities';
import { DatasetCache, s3ObjectSource } from '../activities/gpu/dataset-cache';
import { detectGpus, DeviceSlots, hostDevices } from '../activities/gpu/devices';
import { createLegacyActivities } from '../activities/legacy/activities';
import { createStorageActivities } from '../activities/storage/activities';
import { createS3Client } from '../activities/storage/s3-client';
import { logSteps } from '../activities/tracking/activities';
import { recordDataset } from '../activities/tracking/dataset-input';
import { toKeyValues } from '../activities/tracking/log-batch';
import { mlflowClientFor } from '../activities/tracking/mlflow-client';
import { gpuHostQueue, gpuPoolQueue, trainingProgressSignal } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { deploymentVersion, workerDeploymentOptions } from '../common/worker-deployment';

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
  /** The host's devices and slots (default: hostDeviceSlots(settings)). */
  devices?: DeviceSlots;
}

/** The devices of this host (GF_GPU_DEVICES, else what NVML sees, else the CPU) with GF_GPU_SLOTS_PER_DEVICE slots each. */
export async function hostDeviceSlots(settings: Settings): Promise<DeviceSlots> {
  const { devices, slots } = settings.gpu;
  const detected = devices?.every((d) => d === 'cpu') ? [] : await detectGpus(settings.python);
  return new DeviceSlots(hostDevices(devices, detected), slots);
}

/**
 * One GPU host: a worker on the pool queue running at most one job per slot of each device (each
 * job on a device of its own), and a worker on this host's own queue for the follow-up uploads of
 * files the jobs wrote here.
 */
export async function createGpuWorkers(opts: GpuWorkerOptions): Promise<Worker[]> {
  const { settings, connection, client } = opts;
  const { pool, hostId, workDir } = settings.gpu;
  const devices = opts.devices ?? (await hostDeviceSlots(settings));
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
    devices,
    hostId,
    tagRun: (runId, tags) => mlflow.logBatch(runId, { tags: toKeyValues(tags) }),
    datasets: {
      cache: new DatasetCache({ source: s3ObjectSource(s3), root: settings.gpu.dataCache, maxBytes: settings.gpu.dataCacheMaxBytes, log: (message) => console.log(message) }),
      record: (runId, dataset, context) => recordDataset(mlflow, runId, dataset, context),
    },
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    env: opts.env,
  });
  const storage = createStorageActivities({
    s3,
    bucket: settings.s3.bucket,
    artifactsPrefix: settings.s3.artifactsPrefix,
    allowedRoots: [workDir],
  });
  // wrapped legacy scripts share the pool's slots and devices with the executors
  const legacy = createLegacyActivities({
    devices,
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
  // the identity names the host, so the Web UI and histories show where each job ran; a pinned
  // workflow's jobs go to the GPU workers of its own build (same deployment version)
  const common = {
    connection,
    namespace: settings.temporal.namespace,
    identity: `${process.pid}@${hostId}`,
    workerDeploymentOptions: workerDeploymentOptions(deploymentVersion(settings)),
  };
  return Promise.all([
    Worker.create({
      ...common,
      taskQueue: gpuPoolQueue(pool),
      activities: { ...gpu, ...legacy },
      // one job per slot of each device: the jobs and the devices they get are counted alike
      maxConcurrentActivityTaskExecutions: devices.slots,
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
  const devices = await hostDeviceSlots(settings);
  const workers = await createGpuWorkers({ settings, connection, client, devices });
  const { pool, hostId } = settings.gpu;
  const shown = devices.devices.map((d) => (d.index === 'cpu' ? 'cpu' : `${d.index} (${d.name})`)).join(', ');
  console.log(`GPU worker ${hostId}: pool ${pool}, ${devices.slots} slot(s) on ${shown}, queues ${gpuPoolQueue(pool)} and ${gpuHostQueue(pool, hostId)}, build ${deploymentVersion(settings).buildId}`);
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
