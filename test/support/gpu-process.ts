import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, REPO } from './harness';

/** The stand-in GPU host: `dist/workers/gpu.js` as a host runs it, with the stand-in executors of test/fixtures. */
export const STAND_IN_GPU_HOST = path.join(REPO, 'test/support/stand-in-gpu-host.mjs');

/**
 * A GPU worker as its own process, as on a GPU host (the compiled `dist/workers/gpu.js`, or
 * `script`: STAND_IN_GPU_HOST; `env` gives it its host id and work folder), logging to
 * `{logDir}/{name}.log`. Resolves once it polls its queues, so a test can kill it for real
 * (SIGKILL) or drain it, where an in-process worker could only stop.
 */
export async function startGpuWorkerProcess(logDir: string, name: string, env: NodeJS.ProcessEnv = {}, script = path.join(REPO, 'dist/workers/gpu.js')): Promise<ChildProcess> {
  const logFile = path.join(logDir, `${name}.log`);
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] });
  await eventually(async () => ((await readFile(logFile, 'utf8')).includes('GPU worker') ? true : undefined), 30_000, `${name} to start`);
  return child;
}
