import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** One JSON line of the executor protocol (docs/architecture.md §7). */
export interface ExecutorEvent {
  event: string;
  [field: string]: unknown;
}

export interface ExecutorErrorEvent extends ExecutorEvent {
  event: 'error';
  kind: string;
  message: string;
}

export interface RunExecutorOptions {
  command: string;
  args: string[];
  /** Sent as JSON on stdin. */
  spec: unknown;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The executor's stderr (ultralytics' own log) is kept here. */
  logFile: string;
  /** Where the executor's pid is written, for operators and tests that check it is gone. */
  pidFile: string;
  signal: AbortSignal;
  onEvent: (event: ExecutorEvent) => void;
  /** After SIGTERM, how long the process group gets before SIGKILL. */
  killGraceMs?: number;
}

export interface ExecutorExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  cancelled: boolean;
  error?: ExecutorErrorEvent;
  stderrTail: string;
}

const TAIL_LINES = 40;

/**
 * Runs an executor in its own process group (never through a shell), feeds it the spec and
 * hands each protocol event to `onEvent`. Aborting the signal kills the whole group, so
 * dataloader workers and other grandchildren go too.
 */
export async function runExecutor(opts: RunExecutorOptions): Promise<ExecutorExit> {
  const child = spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  const pid = child.pid;
  if (pid === undefined) {
    const [err] = (await once(child, 'error')) as [Error];
    throw err;
  }
  writeFileSync(opts.pidFile, String(pid));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;

  const log = createWriteStream(opts.logFile, { flags: 'a' });
  const tail: string[] = [];
  const keepTail = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  createInterface({ input: child.stderr }).on('line', (line) => {
    log.write(line + '\n');
    keepTail(line);
  });

  let error: ExecutorErrorEvent | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = parseEvent(line);
    if (!event) {
      log.write(line + '\n');
      keepTail(line);
      return;
    }
    if (event.event === 'error') error = event as ExecutorErrorEvent;
    opts.onEvent(event);
  });

  child.stdin.on('error', () => undefined);
  child.stdin.end(JSON.stringify(opts.spec));

  let cancelled = false;
  const kill = () => {
    cancelled = true;
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs ?? 5000).unref();
  };
  if (opts.signal.aborted) kill();
  else opts.signal.addEventListener('abort', kill, { once: true });

  try {
    const [code, signal] = await exited;
    if (cancelled) killGroup(pid, 'SIGKILL');
    return { pid, code, signal, cancelled, error, stderrTail: tail.join('\n') };
  } finally {
    opts.signal.removeEventListener('abort', kill);
    log.end();
  }
}

/** Kills a whole process group; a group that is already gone is fine. */
export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

function parseEvent(line: string): ExecutorEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as ExecutorEvent).event === 'string' ? (value as ExecutorEvent) : undefined;
  } catch {
    return undefined;
  }
}
