import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { request } from 'undici';
import { createS3Client } from '../activities/storage/s3-client';
import { CONTROL_QUEUE, gpuPoolQueue, SEARCH_ATTRIBUTE_NAMES } from '../common/contract';
import { CONTROL_WORKER_NODE_FLAGS } from '../common/control-worker-flags';
import { urlHost, type Settings } from '../common/settings';
import { temporalConnectionOptions } from '../common/temporal-connection';
import { ApiPath } from '../server/api-paths';

/** One process `gflow dev` manages: how to start it and how to tell it is ready. */
export interface ServerSpec {
  name: string;
  title: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Ports it binds, with the setting that moves each one. */
  ports: { port: number; setting: string }[];
  /** Writes config files before the first start. */
  prepare?: () => Promise<void>;
  /** One health probe; `pid` is the process we started (workers are found by it). */
  ready: (pid: number) => Promise<boolean>;
  url?: string;
  startTimeoutMs: number;
}

const binOf = (settings: Settings, name: string) => path.join(path.dirname(settings.python), name);

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode >= 200 && res.statusCode < 400;
  } catch {
    return false;
  }
}

/** Temporal dev server: SQLite file in the state folder, Web UI, GuardianFlow's search attributes. */
export function temporalServer(settings: Settings): ServerSpec {
  const { temporal, host, stateDir } = settings;
  const dataDir = path.join(stateDir, 'temporal');
  return {
    name: 'temporal',
    title: 'Temporal dev server',
    command: binOf(settings, 'temporal'),
    args: [
      'server', 'start-dev',
      '--ip', host,
      '--port', String(temporal.port),
      '--ui-port', String(temporal.uiPort),
      '--db-filename', path.join(dataDir, 'temporal.db'),
      '--namespace', temporal.namespace,
      '--log-level', 'warn',
      '--ui-disable-news-fetch',
      '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
      // activities a workflow schedules on its own worker's queue start on that worker without a round trip
      '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
      // the GPU pool's backlog in priority order and, within a priority, in weighted turns per customer (scenarios/pool-policy.ts)
      '--dynamic-config-value', 'matching.enableFairness=true',
      // one partition per task queue: one backlog, so that order is exact (a single dev server gains nothing from more)
      '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
      '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
      ...SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ],
    env: { ...process.env, TEMPORAL_TELEMETRY_DISABLED: '1' },
    ports: [
      { port: temporal.port, setting: 'GF_TEMPORAL_PORT' },
      { port: temporal.uiPort, setting: 'GF_TEMPORAL_UI_PORT' },
    ],
    prepare: async () => {
      await mkdir(dataDir, { recursive: true });
    },
    ready: async () => (await namespaceReady(settings)) && httpOk(temporal.uiUrl),
    url: temporal.uiUrl,
    startTimeoutMs: 90_000,
  };
}

/** One health probe over the connection every process uses (TLS, API key); a TLS setting that cannot be read fails here, not as "not ready". */
async function withTemporal<T>(settings: Settings, fn: (connection: Connection) => Promise<T>): Promise<T | undefined> {
  const options = temporalConnectionOptions(settings.temporal);
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: '2s' });
    return await fn(connection);
  } catch {
    return undefined;
  } finally {
    await connection?.close();
  }
}

async function namespaceReady(settings: Settings): Promise<boolean> {
  const info = await withTemporal(settings, (c) => c.workflowService.describeNamespace({ namespace: settings.temporal.namespace }));
  return info !== undefined;
}

/** SeaweedFS in one process (master, volume, filer, S3 gateway); ready once the bucket exists. */
export function seaweedfsServer(settings: Settings): ServerSpec {
  const { s3, host, stateDir } = settings;
  const dataDir = path.join(stateDir, 'seaweedfs');
  const s3Config = path.join(dataDir, 's3.json');
  const client = createS3Client(s3);
  return {
    name: 'seaweedfs',
    title: 'SeaweedFS (S3)',
    command: binOf(settings, 'weed'),
    args: [
      'server',
      `-dir=${dataDir}`,
      `-ip=${host}`,
      `-ip.bind=${host}`,
      `-master.port=${s3.masterPort}`,
      `-master.port.grpc=${s3.masterPort + 10000}`,
      '-master.volumeSizeLimitMB=1024',
      `-volume.port=${s3.volumePort}`,
      `-volume.port.grpc=${s3.volumePort + 10000}`,
      '-volume.max=0',
      '-filer',
      `-filer.port=${s3.filerPort}`,
      `-filer.port.grpc=${s3.filerPort + 10000}`,
      '-s3',
      `-s3.port=${s3.port}`,
      `-s3.port.grpc=${s3.port + 10000}`,
      '-s3.port.iceberg=0',
      '-s3.port.lance=0',
      `-s3.config=${s3Config}`,
    ],
    env: { ...process.env },
    ports: [
      { port: s3.port, setting: 'GF_S3_PORT' },
      { port: s3.masterPort, setting: 'GF_WEED_MASTER_PORT' },
      { port: s3.volumePort, setting: 'GF_WEED_VOLUME_PORT' },
      { port: s3.filerPort, setting: 'GF_WEED_FILER_PORT' },
      { port: s3.masterPort + 10000, setting: 'GF_WEED_MASTER_PORT (gRPC = port + 10000)' },
      { port: s3.volumePort + 10000, setting: 'GF_WEED_VOLUME_PORT (gRPC = port + 10000)' },
      { port: s3.filerPort + 10000, setting: 'GF_WEED_FILER_PORT (gRPC = port + 10000)' },
      { port: s3.port + 10000, setting: 'GF_S3_PORT (gRPC = port + 10000)' },
    ],
    prepare: async () => {
      await mkdir(dataDir, { recursive: true });
      const identity = { name: 'guardianflow', credentials: [{ accessKey: s3.accessKeyId, secretKey: s3.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] };
      await writeFile(s3Config, JSON.stringify({ identities: [identity] }, null, 2), { mode: 0o600 });
    },
    ready: async () => {
      try {
        await client.send(new CreateBucketCommand({ Bucket: s3.bucket })).catch((err: Error) => {
          if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
        });
        await client.send(new HeadBucketCommand({ Bucket: s3.bucket }));
        return true;
      } catch {
        return false;
      }
    },
    url: `${s3.endpoint}/${s3.bucket}`,
    startTimeoutMs: 90_000,
  };
}

/** MLflow tracking server: SQLite backend, run artifacts proxied into the S3 bucket. */
export function mlflowServer(settings: Settings): ServerSpec {
  const { mlflow, s3, host, stateDir } = settings;
  const dataDir = path.join(stateDir, 'mlflow');
  return {
    name: 'mlflow',
    title: 'MLflow tracking server',
    command: binOf(settings, 'mlflow'),
    args: [
      'server',
      '--backend-store-uri', `sqlite:///${path.join(dataDir, 'mlflow.db')}`,
      '--artifacts-destination', `s3://${s3.bucket}/${s3.artifactsPrefix}`,
      '--host', host,
      '--port', String(mlflow.port),
      '--workers', '1',
    ],
    env: {
      ...process.env,
      MLFLOW_S3_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_DEFAULT_REGION: s3.region,
      MLFLOW_DISABLE_TELEMETRY: 'true',
      DO_NOT_TRACK: 'true',
      // the server's job runner (GenAI jobs) starts eight huey processes (~2 GB) that GuardianFlow never uses
      MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    },
    ports: [{ port: mlflow.port, setting: 'GF_MLFLOW_PORT' }],
    prepare: async () => {
      await mkdir(dataDir, { recursive: true });
    },
    ready: () => httpOk(`${mlflow.url}/health`),
    url: mlflow.url,
    startTimeoutMs: 180_000,
  };
}

/** A GuardianFlow worker from the compiled tree; ready once it polls its task queue as `{pid}@{host}`. */
function workerProcess(
  settings: Settings,
  name: string,
  title: string,
  script: string,
  queue: string,
  type: proto.api.enums.v1.TaskQueueType,
  host = os.hostname(),
  nodeFlags: readonly string[] = [],
): ServerSpec {
  return {
    name,
    title,
    command: process.execPath,
    args: [...nodeFlags, path.join(settings.repoRoot, 'dist', 'workers', script)],
    env: { ...process.env },
    ports: [],
    ready: async (pid) => {
      const identity = `${pid}@${host}`;
      const described = await withTemporal(settings, (c) =>
        c.workflowService.describeTaskQueue({ namespace: settings.temporal.namespace, taskQueue: { name: queue }, taskQueueType: type }),
      );
      return (described?.pollers ?? []).some((p) => p.identity === identity);
    },
    startTimeoutMs: 60_000,
  };
}

export function controlWorker(settings: Settings): ServerSpec {
  return workerProcess(settings, 'control-worker', 'control worker', 'control.js', CONTROL_QUEUE, proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, os.hostname(), CONTROL_WORKER_NODE_FLAGS);
}

export function gpuWorker(settings: Settings): ServerSpec {
  const queue = gpuPoolQueue(settings.gpu.pool);
  return workerProcess(settings, 'gpu-worker', `GPU worker (${queue}, ${settings.gpu.slots} slot(s))`, 'gpu.js', queue, proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, settings.gpu.hostId);
}

/** The fleet HTTP API and page (`gflow serve` from the compiled tree); ready once it answers its config route, which needs no MLflow read. */
export function fleetServer(settings: Settings): ServerSpec {
  const { fleet, host } = settings;
  const url = `http://${urlHost(host)}:${fleet.port}`;
  return {
    name: 'fleet-api',
    title: 'fleet API and page',
    command: process.execPath,
    args: [path.join(settings.repoRoot, 'dist', 'cli', 'gflow.js'), 'serve', '--host', host, '--port', String(fleet.port)],
    env: { ...process.env },
    ports: [{ port: fleet.port, setting: 'GF_FLEET_PORT' }],
    ready: () => httpOk(`${url}${ApiPath.config}`),
    url,
    startTimeoutMs: 60_000,
  };
}
