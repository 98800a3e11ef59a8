import { constants } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { finalMetrics, parseResultsCsv, StdoutMetrics, type MetricStep } from '../../legacy/metrics';
import { choosePython, PythonChoiceError, type ChosenPython } from './python';
import { legacyExperimentName, type WrapPlan } from '../../legacy/wrap-request';
import { onDevice, type DeviceSlots } from '../gpu/devices';
import { runExecutor } from '../gpu/executor-process';
import { runFolder } from '../gpu/executor-job';
import type { ArtifactFile } from '../storage/activities';
import { copyLiveFile } from '../storage/live-file-copy';
import type { StepMetrics } from '../tracking/activities';
import { scriptEnvironment } from './script-env';
import { realFolder, refused, scriptByPatterns, fileInFolder, snapshot, writtenFiles, type FileState } from './folder';

export interface LegacyDeps {
  /** `GF_PYTHON`: for entries that name no Python and have no `.venv`/`venv` of their own. */
  python: string;
  /** Each wrapped run keeps its log and copies of collected files in `{workDir}/{runId}`. */
  workDir: string;
  yoloConfigDir: string;
  trackingUri: string;
  hostQueue: string;
  logMetrics: (runId: string, steps: StepMetrics[]) => Promise<void>;
  /** Uploads the growing log while the script runs, so `logs/script.log` can be read before it ends. */
  uploadLog: (artifactUri: string, file: ArtifactFile) => Promise<void>;
  heartbeatIntervalMs?: number;
  logUploadIntervalMs?: number;
  env?: NodeJS.ProcessEnv;
  /** The host's devices, shared with the executors' jobs: a script gets one of its own (`CUDA_VISIBLE_DEVICES`). */
  devices: DeviceSlots;
}

export interface LegacyScriptInput {
  runId: string;
  artifactUri: string;
  plan: WrapPlan;
}

/** A collected file: uploaded under `outputs/`, or only listed when over the size cap. */
export interface CollectedFile {
  path: string;
  sizeBytes: number;
  uploaded: boolean;
}

export interface LegacyScriptResult {
  hostQueue: string;
  /** The script as run, relative to the folder, and its argv after it. */
  script: string;
  /** The interpreter it ran with (the entry's, the folder's venv or `GF_PYTHON`); absent from results recorded before entries could name one. */
  python?: ChosenPython;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  /** The last lines of stderr (a traceback), for the failure message. */
  stderrTail: string;
  files: ArtifactFile[];
  collected: CollectedFile[];
  metrics: Record<string, number>;
  /** `outputs/…/best.pt` (or the newest `.pt`) to register, as an artifact path. */
  model?: string;
}

/** What `gflow status` shows of a running script (the activity's heartbeat details). */
export interface LegacyHeartbeat {
  lines: string[];
}

const HEARTBEAT_LINES = 10;
const STDERR_LINES = 20;
const LOG_NAME = 'script';

/** The legacy activities of a GPU host: one runs an unmodified site script as a wrapped run. */
export function createLegacyActivities(deps: LegacyDeps) {
  return {
    async runLegacyScript(input: LegacyScriptInput): Promise<LegacyScriptResult> {
      const ctx = Context.current();
      const { entry } = input.plan.request;
      const folder = await realFolder(entry.path);
      const script = input.plan.script === undefined ? await scriptByPatterns(folder, input.plan.patterns) : await fileInFolder(folder, input.plan.script);
      const python = await choosePython(folder, entry.python, deps.python).catch((err: unknown) => {
        throw err instanceof PythonChoiceError ? refused(err.message) : err;
      });
      const runDir = await runFolder(deps.workDir, input.runId);
      const logFile: ArtifactFile = { localPath: path.join(runDir, `${LOG_NAME}.log`), artifactPath: `logs/${LOG_NAME}.log` };
      const before = await snapshot(folder, entry.collect.globs);

      const lines: string[] = [];
      const stderr: string[] = [];
      const stdoutMetrics = entry.stdout_metrics === false ? undefined : new StdoutMetrics(entry.stdout_metrics);
      const heartbeat = () => ctx.heartbeat({ lines } satisfies LegacyHeartbeat);
      const beat = setInterval(heartbeat, deps.heartbeatIntervalMs ?? 5000);
      let uploading: Promise<void> | undefined;
      const lease = deps.devices.acquire();
      const streamLog = setInterval(() => {
        uploading ??= deps
          .uploadLog(input.artifactUri, logFile)
          .catch((err: unknown) => {
            ctx.log.warn('log upload failed', { error: String(err) });
          })
          .finally(() => {
            uploading = undefined;
          });
      }, deps.logUploadIntervalMs ?? 30_000);
      try {
        heartbeat();
        const exit = await runExecutor({
          command: python.path,
          args: [script, ...input.plan.args],
          protocol: false,
          cwd: folder,
          env: {
            ...scriptEnvironment({ ...process.env, ...deps.env }),
            // a script that uses MLflow (ultralytics' own callback does) logs into the wrapping run and leaves it open;
            // the experiment name too: ultralytics sets the active experiment by name before resuming the run, and with
            // any other experiment (its default is the train `project`) it logged nothing (docs/architecture.md §10)
            MLFLOW_RUN_ID: input.runId,
            MLFLOW_TRACKING_URI: deps.trackingUri,
            MLFLOW_EXPERIMENT_NAME: legacyExperimentName(entry),
            MLFLOW_KEEP_RUN_ACTIVE: 'true',
            YOLO_CONFIG_DIR: await legacyYoloConfig(deps.yoloConfigDir),
            YOLO_OFFLINE: 'true',
            PYTHONUNBUFFERED: '1',
            ...onDevice(lease.device, 'auto').env,
          },
          logFile: logFile.localPath,
          pidFile: path.join(runDir, `${LOG_NAME}.pid`),
          signal: ctx.cancellationSignal,
          onEvent: () => undefined,
          onLine: (line, stream) => {
            const shown = asShown(line);
            keep(lines, shown, HEARTBEAT_LINES);
            if (stream === 'stderr') keep(stderr, shown, STDERR_LINES);
            else stdoutMetrics?.read(shown);
          },
        });
        if (exit.cancelled) throw new CancelledFailure(`script cancelled; process group ${exit.pid} killed`);
        await uploading;

        const after = await snapshot(folder, entry.collect.globs);
        const collected = await collect(folder, runDir, writtenFiles(before, after), entry.collect.max_file_mb);
        const steps = [...(await resultsCsvSteps(collected.files)), ...(stdoutMetrics?.steps() ?? [])];
        if (steps.length > 0) await deps.logMetrics(input.runId, steps);
        await writeFile(path.join(runDir, 'collected.json'), JSON.stringify(collected.list, null, 2));
        return {
          hostQueue: deps.hostQueue,
          script: path.relative(folder, script).split(path.sep).join('/'),
          python,
          args: input.plan.args,
          exitCode: exit.code,
          signal: exit.signal,
          stderrTail: stderr.join('\n'),
          files: [...collected.files.map((f) => f.file), { localPath: path.join(runDir, 'collected.json'), artifactPath: 'collected.json' }, logFile],
          collected: collected.list,
          metrics: finalMetrics(steps),
          model: modelFile(collected.files),
        };
      } finally {
        lease.release();
        clearInterval(beat);
        clearInterval(streamLog);
      }
    },
  };
}

/** ultralytics' fonts, so nothing downloads on an offline host (docs/architecture.md §10). */
const FONTS = ['Arial.ttf', 'Arial.Unicode.ttf'];

/**
 * An ultralytics config folder of the wrapped scripts' own: the executors' one has every
 * integration switched off (MLflow would double-log there), while a wrapped script's MLflow
 * callback is wanted, logging into the wrapping run. The offline fonts are copied over once.
 */
async function legacyYoloConfig(executorsDir: string): Promise<string> {
  const dir = path.join(executorsDir, 'legacy');
  await mkdir(dir, { recursive: true });
  for (const font of FONTS) {
    await copyFile(path.join(executorsDir, font), path.join(dir, font), constants.COPYFILE_EXCL).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
    });
  }
  return dir;
}

/** Longest line kept for heartbeats and the failure message (the whole line stays in the log). */
const MAX_LINE_CHARS = 500;

/** A line as a terminal shows it: progress bars redraw with `\r`, so only the last redraw counts. */
function asShown(line: string): string {
  const last = line.slice(line.lastIndexOf('\r') + 1);
  return last.length <= MAX_LINE_CHARS ? last : `${last.slice(0, MAX_LINE_CHARS)}…`;
}

function keep(lines: string[], line: string, max: number): void {
  lines.push(line);
  if (lines.length > max) lines.shift();
}

interface Copied {
  rel: string;
  state: FileState;
  file: ArtifactFile;
}

/**
 * Copies what the script wrote (up to the size cap) into the run folder, so the upload sees the
 * files as they were when the script ended and only ever reads inside the GPU work folder.
 */
async function collect(folder: string, runDir: string, written: { path: string; state: FileState }[], maxFileMb: number) {
  const files: Copied[] = [];
  const list: CollectedFile[] = [];
  for (const { path: rel, state } of written) {
    const uploaded = state.size <= maxFileMb * 1024 * 1024;
    list.push({ path: rel, sizeBytes: state.size, uploaded });
    if (!uploaded) continue;
    // the walk follows no links, so every collected path is a plain file inside the folder; checked once more
    const source = await fileInFolder(folder, rel).catch(() => undefined);
    if (!source) throw refused(`collected file ${rel} resolves outside the experiment folder ${folder}`);
    const copy = path.join(runDir, 'outputs', ...rel.split('/'));
    await mkdir(path.dirname(copy), { recursive: true });
    // a process the script left behind may still be writing it: what is there is taken, and the copy never hangs
    await copyLiveFile(source, copy);
    files.push({ rel, state, file: { localPath: copy, artifactPath: `outputs/${rel}` } });
  }
  return { files, list };
}

/** Per-epoch metrics of the newest results.csv the script wrote. */
async function resultsCsvSteps(files: Copied[]): Promise<MetricStep[]> {
  const newest = files.filter((f) => path.posix.basename(f.rel) === 'results.csv').sort((a, b) => b.state.mtimeMs - a.state.mtimeMs)[0];
  return newest ? parseResultsCsv(await readFile(newest.file.localPath, 'utf8')) : [];
}

/** `best.pt` if the script wrote one (the newest), else the newest `.pt`. */
function modelFile(files: Copied[]): string | undefined {
  const weights = files.filter((f) => f.rel.endsWith('.pt')).sort((a, b) => b.state.mtimeMs - a.state.mtimeMs);
  return (weights.find((f) => path.posix.basename(f.rel) === 'best.pt') ?? weights[0])?.file.artifactPath;
}
