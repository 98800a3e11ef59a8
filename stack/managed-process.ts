import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** What `gflow dev` remembers about a server it started, in `<state>/pids/<name>.json`. */
export interface ProcessRecord {
  name: string;
  pid: number;
  command: string;
  args: string[];
  logFile: string;
  startedAt: string;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  stateDir: string;
}

export const logFileOf = (stateDir: string, name: string) => path.join(stateDir, 'logs', `${name}.log`);
const pidFileOf = (stateDir: string, name: string) => path.join(stateDir, 'pids', `${name}.json`);

/**
 * Starts a server detached in its own process group (no shell; arguments as a list), its output
 * appended to `<state>/logs/<name>.log`, so it outlives the CLI and can be stopped as a group.
 */
export async function startDetached(opts: StartOptions): Promise<ProcessRecord> {
  const logFile = logFileOf(opts.stateDir, opts.name);
  await mkdir(path.dirname(logFile), { recursive: true });
  await mkdir(path.dirname(pidFileOf(opts.stateDir, opts.name)), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!));
      child.once('error', reject);
    });
    child.unref();
    const record: ProcessRecord = { name: opts.name, pid, command: opts.command, args: opts.args, logFile, startedAt: new Date().toISOString() };
    await writeFile(pidFileOf(opts.stateDir, opts.name), JSON.stringify(record, null, 2));
    return record;
  } finally {
    closeSync(fd);
  }
}

/** The record of a server started earlier, if its process is still the one we started. */
export async function runningProcess(stateDir: string, name: string): Promise<ProcessRecord | undefined> {
  const file = pidFileOf(stateDir, name);
  if (!existsSync(file)) return undefined;
  const record = JSON.parse(await readFile(file, 'utf8')) as ProcessRecord;
  if (isOurProcess(record)) return record;
  await rm(file, { force: true });
  return undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive, not a zombie, and (where /proc tells) still running our command: pids get reused. */
function isOurProcess(record: ProcessRecord): boolean {
  if (!isAlive(record.pid)) return false;
  try {
    const stat = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return false;
    const cmdline = readFileSync(`/proc/${record.pid}/cmdline`, 'utf8');
    return cmdline.includes(path.basename(record.command));
  } catch {
    return true;
  }
}

/** SIGTERM to the whole group, then SIGKILL after `graceMs`; forgets the record. */
export async function stopProcess(stateDir: string, record: ProcessRecord, graceMs = 15_000): Promise<void> {
  signalGroup(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isOurProcess(record) && Date.now() < deadline) await sleep(200);
  if (isOurProcess(record)) signalGroup(record.pid, 'SIGKILL');
  await rm(pidFileOf(stateDir, record.name), { force: true });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The last lines of a server's log, for error messages. */
export async function logTail(logFile: string, lines = 15): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
