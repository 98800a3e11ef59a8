import { readdir, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { z } from 'zod';
import { FailureType } from '../../common/failure-types';
import type { ArtifactFile } from '../storage/activities';
import { executorFailure } from './executor-failures';
import { runExecutor } from './executor-process';
import { isArtifact, parseResult, type ArtifactEvent, type ArtifactKind, type ExecutorEvent } from './protocol';

export interface JobDeps {
  python: string;
  /** Each run works in `{workDir}/{runId}`; uploads are only allowed from inside it. */
  workDir: string;
  yoloConfigDir: string;
  heartbeatIntervalMs?: number;
  /** Extra environment for executors (device masks, fault injection in tests). */
  env?: NodeJS.ProcessEnv;
  /**
   * Aborted when this host is drained at once (`gflow host drain --now`): each job stops its
   * executor and fails HostDraining, so Temporal retries it on another host.
   */
  handBack?: AbortSignal;
}

export interface JobRequest<H, R> {
  runDir: string;
  executor: string;
  /** The executor's `result` shape (`ResultSchemas.train` …); a result that does not match fails the job. */
  result: z.ZodType<R>;
  spec: Record<string, unknown>;
  /** Heartbeat details to start from (a retried attempt continues from its predecessor's). */
  heartbeat: H;
  /** Sees every event first; returns new heartbeat details, or nothing to keep them. */
  onEvent?: (event: ExecutorEvent, heartbeat: H) => H | undefined;
  /** The details as each heartbeat sends them: state that changes between events (an upload that finished) rides along. */
  current?: (heartbeat: H) => H;
  /** Names the log, so several jobs of one run keep their own (`{name}.log`, `{name}.pid`). */
  name?: string;
  /** More environment for this job alone (the device it was given). */
  env?: NodeJS.ProcessEnv;
}

export interface JobOutcome<R> {
  result: R;
  files: ArtifactFile[];
}

const ARTIFACT_FOLDER: Record<ArtifactKind, string> = {
  weights: 'weights',
  table: '',
  plot: 'plots',
  log: 'logs',
  export: 'exports',
};

/**
 * Supervises one executor for the current activity: heartbeats on a timer and on every event
 * (so a cancel arrives even while the executor is quiet), kills its process group on cancel,
 * and turns its end into a result or a typed failure.
 */
export async function superviseJob<H, R>(deps: JobDeps, req: JobRequest<H, R>): Promise<JobOutcome<R>> {
  const ctx = Context.current();
  const name = req.name ?? 'executor';
  // a job that reached a host already draining at once (its poll was in flight) goes straight back
  if (deps.handBack?.aborted) throw handedBack();
  let beat = req.heartbeat;
  const heartbeat = () => ctx.heartbeat(req.current ? req.current(beat) : beat);
  const timer = setInterval(heartbeat, deps.heartbeatIntervalMs ?? 5000);
  const artifacts: ArtifactEvent[] = [];
  let result: R | undefined;
  try {
    heartbeat();
    const exit = await runExecutor({
      command: deps.python,
      args: [req.executor],
      spec: { ...req.spec, run_dir: req.runDir, yolo_config_dir: deps.yoloConfigDir },
      env: { ...process.env, ...deps.env, ...req.env, YOLO_CONFIG_DIR: deps.yoloConfigDir, PYTHONUNBUFFERED: '1' },
      cwd: req.runDir,
      logFile: path.join(req.runDir, `${name}.log`),
      pidFile: path.join(req.runDir, `${name}.pid`),
      signal: deps.handBack ? AbortSignal.any([ctx.cancellationSignal, deps.handBack]) : ctx.cancellationSignal,
      onEvent: (event) => {
        beat = req.onEvent?.(event, beat) ?? beat;
        if (isArtifact(event)) artifacts.push(event);
        else if (event.event === 'result') result = parseResult(req.result, event);
        heartbeat();
      },
    });
    if (exit.cancelled && !ctx.cancellationSignal.aborted && deps.handBack?.aborted) throw handedBack(exit.pid);
    if (exit.cancelled) throw new CancelledFailure(`${name} cancelled; executor process group ${exit.pid} killed`);
    if (exit.violation || exit.code !== 0 || !result) throw executorFailure(exit);
    const files = (await Promise.all(artifacts.map((a) => artifactFiles(req.runDir, a)))).flat();
    return { result, files: [...files, { localPath: path.join(req.runDir, `${name}.log`), artifactPath: `logs/${name}.log` }] };
  } finally {
    clearInterval(timer);
  }
}

/** The retryable failure of a job stopped because its host is drained at once; the retry runs on another host. */
function handedBack(pid?: number): ApplicationFailure {
  const killed = pid === undefined ? '' : `; executor process group ${pid} killed`;
  return ApplicationFailure.create({ message: `this host is being drained: the job goes back to the pool and resumes on another host${killed}`, type: FailureType.HostDraining, nonRetryable: false });
}

/** `{workDir}/{runId}`; the run id is checked so the folder cannot leave the work root. */
export async function runFolder(workDir: string, runId: string): Promise<string> {
  if (!/^[0-9a-f]{8,64}$/.test(runId)) {
    throw ApplicationFailure.create({ message: `not an MLflow run id: ${runId}`, type: FailureType.InvalidScenario, nonRetryable: true });
  }
  const dir = path.join(workDir, runId);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** The files of an artifact event; a folder (an OpenVINO export) becomes every file inside it. */
async function artifactFiles(runDir: string, artifact: ArtifactEvent): Promise<ArtifactFile[]> {
  const folder = ARTIFACT_FOLDER[artifact.kind];
  const local = path.resolve(runDir, artifact.path);
  const name = path.basename(local);
  const base = folder ? `${folder}/${name}` : name;
  const entries = await readdir(local, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOTDIR') return undefined;
    throw err;
  });
  if (!entries) return [{ localPath: local, artifactPath: base }];
  return entries
    .filter((e) => e.isFile())
    .map((e) => {
      const file = path.join(e.parentPath, e.name);
      return { localPath: file, artifactPath: `${base}/${path.relative(local, file).split(path.sep).join('/')}` };
    });
}
