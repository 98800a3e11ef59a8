import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createGpuActivities, type GpuDeps } from '../activities/gpu/activities';
import { DatasetCache, s3ObjectSource } from '../activities/gpu/dataset-cache';
import { detectGpus, DeviceSlots, hostDevices } from '../activities/gpu/devices';
import { sweepSlotRelay } from '../activities/gpu/sweep-slot-relay';
import { createLegacyActivities } from '../activities/legacy/activities';
import { createStorageActivities } from '../activities/storage/activities';
import { createS3Client } from '../activities/storage/s3-client';
import { logSteps } from '../activities/tracking/activities';
import { recordDataset } from '../activities/tracking/dataset-input';
import { toKeyValues } from '../activities/tracking/log-batch';
import { mlflowClientFor } from '../activities/tracking/mlflow-client';
import { gpuHostQueue, gpuPoolQueue, trainingProgressSignal } from '../common/contract';
import { DrainMode } from '../common/hosts';
import { loadSettings, type Settings } from '../common/settings';
import { connectTemporal } from '../common/temporal-unreachable';
import { deploymentVersion, workerDeploymentOptions } from '../common/worker-deployment';
import { HostControl } from './host-control';

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
  /**
   * How long the pool worker's shutdown lets running jobs go on (default 0: they are cancelled at
   * once). A drainable host (runGpuHost) lets them finish: its shutdown is the graceful drain.
   */
  shutdownGraceTime?: Duration;
  /** Aborted to hand every running GPU job back to the pool (`gflow host drain --now`): they fail HostDraining and resume elsewhere. */
  handBack?: AbortSignal;
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
  const relay = sweepSlotRelay(client);
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
    releaseSweepSlot: relay.release,
    watchSweepSlot: relay.watch,
    devices,
    hostId,
    tagRun: (runId, tags) => mlflow.logBatch(runId, { tags: toKeyValues(tags) }),
    datasets: {
      cache: new DatasetCache({ source: s3ObjectSource(s3), root: settings.gpu.dataCache, maxBytes: settings.gpu.dataCacheMaxBytes, log: (message) => console.log(message) }),
      record: (runId, dataset, context) => recordDataset(mlflow, runId, dataset, context),
    },
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    env: opts.env,
    handBack: opts.handBack,
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
      shutdownGraceTime: opts.shutdownGraceTime ?? 0,
    }),
    Worker.create({ ...common, taskQueue: hostQueue, activities: storage }),
  ]);
}

/** As long as a GPU job may run (the pool's startToCloseTimeout): a graceful drain waits for running jobs this long at most. */
const JOB_MAX_DURATION: Duration = '72h';
/** After a stop signal: how long the upload worker must be idle before the process exits. */
const SIGNAL_UPLOAD_QUIET_MS = 3000;

/**
 * A GPU host's worker process: the pool and host workers, its record in the pool (common/hosts.ts)
 * and the drain it watches there; resolves once the host has drained and stopped. SIGINT and
 * SIGTERM drain it at once (running trainings resume elsewhere); a second one exits.
 * `executors`: the stand-in host of tests and scripts/prod-check.sh swaps them.
 */
export async function runGpuHost(opts: { executors?: Partial<GpuDeps['executors']>; label?: string } = {}): Promise<void> {
  // the host handles its shutdown signals itself: a drain, not the SDK's cancel-everything
  Runtime.install({ shutdownSignals: [] });
  const settings = loadSettings();
  const connection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const clientConnection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  const client = new Client({ connection: clientConnection, namespace: settings.temporal.namespace });
  const devices = await hostDeviceSlots(settings);
  const handBack = new AbortController();
  const [pool, uploads] = await createGpuWorkers({ settings, connection, client, devices, executors: opts.executors, shutdownGraceTime: JOB_MAX_DURATION, handBack: handBack.signal });
  const { hostId } = settings.gpu;
  const control = new HostControl({ client, pool: settings.gpu.pool, hostId, devices, identity: `${process.pid}@${hostId}`, poolWorker: pool, uploadWorker: uploads, handBack, log: (line) => console.log(line) });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(130);
    console.log(`GPU worker ${hostId}: ${signal}: draining at once (again to exit now)`);
    // whoever sent it (systemd, gflow dev down) waits seconds, not the usual wait for uploads
    control.drain(DrainMode.now, SIGNAL_UPLOAD_QUIET_MS);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const shown = devices.devices.map((d) => (d.index === 'cpu' ? 'cpu' : `${d.index} (${d.name})`)).join(', ');
  console.log(`GPU worker ${hostId}${opts.label ?? ''}: pool ${settings.gpu.pool}, ${devices.slots} slot(s) on ${shown}, queues ${gpuPoolQueue(settings.gpu.pool)} and ${gpuHostQueue(settings.gpu.pool, hostId)}, build ${deploymentVersion(settings).buildId}, work dir ${settings.gpu.workDir}`);
  await control.run();
  await clientConnection.close();
  await connection.close();
}

if (require.main === module) {
  runGpuHost().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
