import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { eventually, REPO } from './harness';

/**
 * A GPU worker as its own process, as on a GPU host (the compiled `dist/workers/gpu.js`; `env`
 * gives it its host id and work folder), logging to `{logDir}/{name}.log`. Resolves once it polls
 * its queues, so a test can kill it for real (SIGKILL) where an in-process worker could only stop.
 */
export async function startGpuWorkerProcess(logDir: string, name: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const logFile = path.join(logDir, `${name}.log`);
  const child = spawn(process.execPath, [path.join(REPO, 'dist/workers/gpu.js')], { env: { ...process.env, ...env }, stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] });
  await eventually(async () => ((await readFile(logFile, 'utf8')).includes('GPU worker') ? true : undefined), 30_000, `${name} to start`);
  return child;
}
