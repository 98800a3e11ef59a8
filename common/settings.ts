import os from 'node:os';
import path from 'node:path';

/** Where every GuardianFlow process finds the stack; one place so the CLI, workers, dev stack and tests agree. */
export interface Settings {
  /** The checkout (also when running from `dist/`): executors, compiled workers and the venv live here. */
  repoRoot: string;
  /** Root folder of servers' data, logs and pid files (`gflow dev`), and of GPU work folders. */
  stateDir: string;
  /** Loopback by default: dev servers never listen on other interfaces unless asked. */
  host: string;
  python: string;
  temporal: { address: string; port: number; uiPort: number; namespace: string; uiUrl: string };
  mlflow: { port: number; url: string };
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
  gpu: { pool: string; hostId: string; slots: number; workDir: string; yoloConfigDir: string };
}

type Env = Record<string, string | undefined>;

function intFrom(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new Error(`${key}: expected a positive integer, got "${raw}"`);
  }
  return value;
}

/** Reads settings from the environment (GF_* variables) with defaults for a one-machine stack. */
export function loadSettings(env: Env = process.env, repoRoot = path.resolve(__dirname, '..')): Settings {
  const root = findRepoRoot(repoRoot);
  const stateDir = path.resolve(env.GF_STATE_DIR ?? path.join(root, '.gflow'));
  const host = env.GF_HOST ?? '127.0.0.1';
  const temporalPort = intFrom(env, 'GF_TEMPORAL_PORT', 7233);
  const uiPort = intFrom(env, 'GF_TEMPORAL_UI_PORT', 8233);
  const mlflowPort = intFrom(env, 'GF_MLFLOW_PORT', 5000);
  const s3Port = intFrom(env, 'GF_S3_PORT', 8333);
  const namespace = env.GF_TEMPORAL_NAMESPACE ?? 'default';
  return {
    repoRoot: root,
    stateDir,
    host,
    python: env.GF_PYTHON ?? path.join(root, '.venv', 'bin', 'python'),
    temporal: {
      port: temporalPort,
      uiPort,
      namespace,
      address: env.TEMPORAL_ADDRESS ?? `${host}:${temporalPort}`,
      uiUrl: env.GF_TEMPORAL_UI_URL ?? `http://${host}:${uiPort}`,
    },
    mlflow: { port: mlflowPort, url: stripSlash(env.MLFLOW_TRACKING_URI ?? `http://${host}:${mlflowPort}`) },
    s3: {
      port: s3Port,
      endpoint: stripSlash(env.GF_S3_ENDPOINT ?? `http://${host}:${s3Port}`),
      bucket: env.GF_S3_BUCKET ?? 'guardianflow',
      artifactsPrefix: env.GF_S3_ARTIFACTS_PREFIX ?? 'mlflow-artifacts',
      region: env.AWS_REGION ?? 'us-east-1',
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? 'gflow-dev',
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? 'gflow-dev-secret',
      masterPort: intFrom(env, 'GF_WEED_MASTER_PORT', 9333),
      volumePort: intFrom(env, 'GF_WEED_VOLUME_PORT', 8080),
      filerPort: intFrom(env, 'GF_WEED_FILER_PORT', 8888),
    },
    gpu: {
      pool: env.GF_GPU_POOL ?? 'default',
      hostId: env.GF_GPU_HOST_ID ?? os.hostname(),
      slots: intFrom(env, 'GF_GPU_SLOTS', 1),
      workDir: path.resolve(env.GF_WORK_DIR ?? path.join(stateDir, 'work')),
      /** ultralytics' settings and the fonts it would otherwise download (scripts/setup.sh fills it). */
      yoloConfigDir: path.resolve(env.GF_YOLO_CONFIG_DIR ?? path.join(stateDir, 'ultralytics')),
    },
  };
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
