import os from 'node:os';
import path from 'node:path';
import { Secret } from './secret';
import { refuseBlank, SettingsError } from './settings-error';
import { loadTemporalTarget, type TemporalAccess } from './temporal-connection';

export { SettingsError } from './settings-error';

/** Where every GuardianFlow process finds the stack; one place so the CLI, workers, dev stack and tests agree. */
export interface Settings {
  /** The checkout (also when running from `dist/`): executors, compiled workers and the venv live here. */
  repoRoot: string;
  /** Root folder of servers' data, logs and pid files (`gflow dev`), and of GPU work folders. */
  stateDir: string;
  /** Loopback by default: dev servers never listen on other interfaces unless asked. */
  host: string;
  python: string;
  /**
   * `address`, `namespace` and `access` (TLS, API key) as the `temporal` CLI resolves them (`temporal.toml`
   * profile, `TEMPORAL_*`), falling back to the dev stack's own server; `port`/`uiPort`: where `gflow dev` starts it.
   */
  temporal: { address: string; port: number; uiPort: number; namespace: string; uiUrl: string; access: TemporalAccess };
  /** `uiUrl`: the MLflow UI as a browser reaches it (links on the fleet page); `url` unless GF_MLFLOW_UI_URL says otherwise (a container's `http://mlflow:5000`). */
  mlflow: {
    port: number;
    url: string;
    uiUrl: string;
    /**
     * The `Authorization` header for an MLflow server with authentication, from MLflow's own
     * variables: `MLFLOW_TRACKING_TOKEN` (bearer) or `MLFLOW_TRACKING_USERNAME` + `MLFLOW_TRACKING_PASSWORD` (basic).
     */
    authorization?: Secret;
  };
  /** The fleet HTTP API (`gflow serve`): its port, and how many seconds a snapshot answers before the next incremental read. */
  fleet: { port: number; refreshSeconds: number };
  s3: {
    port: number;
    endpoint: string;
    bucket: string;
    /** Key prefix in the bucket under which the MLflow server proxies run artifacts. */
    artifactsPrefix: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    masterPort: number;
    volumePort: number;
    filerPort: number;
  };
  /**
   * Worker Versioning: the Worker Deployment both workers join (`GF_DEPLOYMENT_NAME`, default
   * `guardianflow`) and this build's id (`GF_BUILD_ID`; unset: the package version and git commit,
   * resolved by common/worker-deployment.ts only where a worker or the CLI needs it).
   */
  deployment: { name: string; buildId?: string };
  gpu: {
    pool: string;
    hostId: string;
    /** GPU indices to run jobs on (`GF_GPU_DEVICES=0,1,2,3`, or `cpu`); unset: every GPU NVML sees, else the CPU. */
    devices?: string[];
    /** Jobs at once per device (`GF_GPU_SLOTS_PER_DEVICE`; `GF_GPU_SLOTS` is its older name, the host's slots when it had one device). */
    slots: number;
    workDir: string;
    yoloConfigDir: string;
    /** `GF_DATA_CACHE`: object-store datasets on this host, one folder per version (default `{workDir}/data-cache`). */
    dataCache: string;
    /** `GF_DATA_CACHE_MAX_GB` in bytes (default 100 GB): least recently used versions not in use are removed to stay under it. */
    dataCacheMaxBytes: number;
  };
}

type Env = Record<string, string | undefined>;

/** A variable's value, or `fallback` when it is unset; set but empty is refused (`refuseBlank`). */
function textFrom(env: Env, key: string, fallback: string): string;
function textFrom(env: Env, key: string): string | undefined;
function textFrom(env: Env, key: string, fallback?: string): string | undefined {
  const raw = env[key];
  refuseBlank(key, raw);
  return raw ?? fallback;
}

function intFrom(env: Env, key: string, fallback: number): number {
  const raw = textFrom(env, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new SettingsError(`${key}: expected a positive integer, got "${raw}"`);
  }
  return value;
}

/** A host as it goes into a URL or `host:port`: an IPv6 address in brackets (`::1` → `[::1]`). */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** Reads settings from the environment (GF_* variables) with defaults for a one-machine stack. */
export function loadSettings(env: Env = process.env, repoRoot = path.resolve(__dirname, '..')): Settings {
  const root = findRepoRoot(repoRoot);
  const stateDir = path.resolve(textFrom(env, 'GF_STATE_DIR', path.join(root, '.gflow')));
  const host = textFrom(env, 'GF_HOST', '127.0.0.1');
  const inUrl = urlHost(host);
  const temporalPort = intFrom(env, 'GF_TEMPORAL_PORT', 7233);
  const uiPort = intFrom(env, 'GF_TEMPORAL_UI_PORT', 8233);
  const mlflowPort = intFrom(env, 'GF_MLFLOW_PORT', 5000);
  const s3Port = intFrom(env, 'GF_S3_PORT', 8333);
  const target = loadTemporalTarget(env, `${inUrl}:${temporalPort}`);
  const mlflowUrl = stripSlash(textFrom(env, 'MLFLOW_TRACKING_URI', `http://${inUrl}:${mlflowPort}`));
  return {
    repoRoot: root,
    stateDir,
    host,
    python: textFrom(env, 'GF_PYTHON', path.join(root, '.venv', 'bin', 'python')),
    temporal: {
      port: temporalPort,
      uiPort,
      ...target,
      uiUrl: textFrom(env, 'GF_TEMPORAL_UI_URL', `http://${inUrl}:${uiPort}`),
    },
    mlflow: { port: mlflowPort, url: mlflowUrl, uiUrl: stripSlash(textFrom(env, 'GF_MLFLOW_UI_URL', mlflowUrl)), ...mlflowAuthorization(env) },
    fleet: { port: intFrom(env, 'GF_FLEET_PORT', 8300), refreshSeconds: intFrom(env, 'GF_FLEET_REFRESH_S', 10) },
    s3: {
      port: s3Port,
      endpoint: stripSlash(textFrom(env, 'GF_S3_ENDPOINT', `http://${inUrl}:${s3Port}`)),
      bucket: textFrom(env, 'GF_S3_BUCKET', 'guardianflow'),
      artifactsPrefix: textFrom(env, 'GF_S3_ARTIFACTS_PREFIX', 'mlflow-artifacts'),
      region: textFrom(env, 'AWS_REGION', 'us-east-1'),
      accessKeyId: textFrom(env, 'AWS_ACCESS_KEY_ID', 'gflow-dev'),
      secretAccessKey: textFrom(env, 'AWS_SECRET_ACCESS_KEY', 'gflow-dev-secret'),
      masterPort: intFrom(env, 'GF_WEED_MASTER_PORT', 9333),
      volumePort: intFrom(env, 'GF_WEED_VOLUME_PORT', 8080),
      filerPort: intFrom(env, 'GF_WEED_FILER_PORT', 8888),
    },
    deployment: deploymentFrom(env),
    gpu: {
      pool: textFrom(env, 'GF_GPU_POOL', 'default'),
      hostId: textFrom(env, 'GF_GPU_HOST_ID', os.hostname()),
      ...gpuDevices(env),
      slots: intFrom(env, 'GF_GPU_SLOTS_PER_DEVICE', intFrom(env, 'GF_GPU_SLOTS', 1)),
      workDir: path.resolve(textFrom(env, 'GF_WORK_DIR', path.join(stateDir, 'work'))),
      /** ultralytics' settings and the fonts it would otherwise download (scripts/setup.sh fills it). */
      yoloConfigDir: path.resolve(textFrom(env, 'GF_YOLO_CONFIG_DIR', path.join(stateDir, 'ultralytics'))),
      ...dataCache(env, path.resolve(textFrom(env, 'GF_WORK_DIR', path.join(stateDir, 'work')))),
    },
  };
}

/** MLflow's client variables as an `Authorization` header; a user without a password (or both kinds at once) is refused by name. */
function mlflowAuthorization(env: Env): { authorization?: Secret } {
  const token = textFrom(env, 'MLFLOW_TRACKING_TOKEN');
  const username = textFrom(env, 'MLFLOW_TRACKING_USERNAME');
  const password = textFrom(env, 'MLFLOW_TRACKING_PASSWORD');
  if (token !== undefined && (username !== undefined || password !== undefined)) {
    throw new SettingsError('MLFLOW_TRACKING_TOKEN and MLFLOW_TRACKING_USERNAME/PASSWORD are both set: use one way to authenticate to MLflow');
  }
  if (token !== undefined) return { authorization: new Secret(`Bearer ${token}`) };
  if (username === undefined && password === undefined) return {};
  if (username === undefined || password === undefined) {
    throw new SettingsError(`${username === undefined ? 'MLFLOW_TRACKING_PASSWORD' : 'MLFLOW_TRACKING_USERNAME'} is set without ${username === undefined ? 'MLFLOW_TRACKING_USERNAME' : 'MLFLOW_TRACKING_PASSWORD'}: basic auth needs both`);
  }
  return { authorization: new Secret(`Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`) };
}

/** `GF_DATA_CACHE` (default inside the work folder) and `GF_DATA_CACHE_MAX_GB` (a positive number, fractions allowed). */
function dataCache(env: Env, workDir: string): { dataCache: string; dataCacheMaxBytes: number } {
  const raw = textFrom(env, 'GF_DATA_CACHE_MAX_GB');
  const gb = raw === undefined ? 100 : Number(raw);
  if (!Number.isFinite(gb) || gb <= 0) throw new SettingsError(`GF_DATA_CACHE_MAX_GB: expected a positive number of gigabytes, got "${raw}"`);
  return { dataCache: path.resolve(textFrom(env, 'GF_DATA_CACHE', path.join(workDir, 'data-cache'))), dataCacheMaxBytes: Math.round(gb * 1e9) };
}

/**
 * `GF_DEPLOYMENT_NAME` and `GF_BUILD_ID`: Temporal joins them into one version string
 * (`{deployment}.{build id}` in the SDK, `{deployment}:{build id}` in visibility), so the name has
 * neither separator; both stay short words a shell and the Web UI show as they are.
 */
function deploymentFrom(env: Env): Settings['deployment'] {
  const name = textFrom(env, 'GF_DEPLOYMENT_NAME', 'guardianflow');
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(name)) throw new SettingsError(`GF_DEPLOYMENT_NAME: expected letters, digits, - and _ (no dot), got "${name}"`);
  const buildId = textFrom(env, 'GF_BUILD_ID');
  if (buildId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(buildId)) {
    throw new SettingsError(`GF_BUILD_ID: expected letters, digits, '.', '_' and '-' (up to 100), got "${buildId}"`);
  }
  return { name, ...(buildId !== undefined && { buildId }) };
}

/** `GF_GPU_DEVICES`: `cpu`, or distinct GPU indices separated by commas. */
function gpuDevices(env: Env): { devices?: string[] } {
  const raw = textFrom(env, 'GF_GPU_DEVICES');
  if (raw === undefined) return {};
  const devices = raw.split(',').map((d) => d.trim());
  if (!(raw.trim() === 'cpu' || devices.every((d) => /^\d+$/.test(d))) || new Set(devices).size !== devices.length) {
    throw new SettingsError(`GF_GPU_DEVICES: expected cpu or distinct GPU indices such as 0,1,2,3, got "${raw}"`);
  }
  return { devices };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** Works from both the TS sources (ts-jest) and the compiled `dist/` tree. */
function findRepoRoot(start: string): string {
  const parts = start.split(path.sep);
  const distIndex = parts.lastIndexOf('dist');
  return distIndex > 0 ? parts.slice(0, distIndex).join(path.sep) : start;
}
