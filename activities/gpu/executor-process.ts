import { spawn } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseEvent, ProtocolViolation, type ErrorEvent, type ExecutorEvent, type ProtocolLine } from './protocol';

export interface RunExecutorOptions {
  command: string;
  args: string[];
  /** Sent as JSON on stdin; without one, stdin is closed at once (a wrapped legacy script reads nothing). */
  spec?: unknown;
  /**
   * False for programs that do not speak the protocol (wrapped legacy scripts): every stdout line
   * is log text, so a script printing `{"event": …}` cannot pose as an executor.
   */
  protocol?: boolean;
  /** Sees every log line (non-protocol stdout and all of stderr) as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The executor's stderr (ultralytics' own log) is kept here. */
  logFile: string;
  /** Where the executor's pid is written, for operators and tests that check it is gone. */
  pidFile: string;
  signal: AbortSignal;
  /** Gets each known event, checked; may throw `ProtocolViolation` (a result of the wrong shape). */
  onEvent: (event: ExecutorEvent) => void;
  /** After SIGTERM, how long the process group gets before SIGKILL. */
  killGraceMs?: number;
}

export interface ExecutorExit {
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  cancelled: boolean;
  error?: ErrorEvent;
  /** Set when a line broke the protocol; the executor was stopped at once. */
  violation?: string;
  stderrTail: string;
}

const TAIL_LINES = 40;
/** How long after the executor's exit its pipes may take to deliver their last lines. */
const STDIO_GRACE_MS = 2000;

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
  // listened for from the start: a pipe may close before the 'exit' event
  const pipesClosed: Promise<unknown>[] = [];
  const stderrLines = createInterface({ input: child.stderr }).on('line', (line) => {
    log.write(line + '\n');
    keepTail(line);
    opts.onLine?.(line, 'stderr');
  });

  pipesClosed.push(once(stderrLines, 'close'));

  let cancelled = false;
  let violation: string | undefined;
  const stop = () => {
    killGroup(pid, 'SIGTERM');
    setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs ?? 5000).unref();
  };
  const cancel = () => {
    cancelled = true;
    stop();
  };

  let error: ErrorEvent | undefined;
  const stdoutLines = createInterface({ input: child.stdout }).on('line', (line) => {
    const value = opts.protocol === false ? undefined : protocolLine(line);
    if (!value || violation) {
      log.write(line + '\n');
      keepTail(line);
      opts.onLine?.(line, 'stdout');
      return;
    }
    try {
      const event = parseEvent(value);
      if (!event) {
        // an event this worker does not know (a newer executor's): logged, otherwise ignored
        log.write(`ignored unknown executor event: ${line}\n`);
        return;
      }
      if (event.event === 'error') error = event;
      opts.onEvent(event);
    } catch (err) {
      if (!(err instanceof ProtocolViolation)) throw err;
      // its other figures cannot be trusted either: stop it now rather than after hours of GPU time
      violation = `${err.message}; line: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}`;
      log.write(`${violation}\n`);
      stop();
    }
  });

  pipesClosed.push(once(stdoutLines, 'close'));

  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.spec === undefined ? undefined : JSON.stringify(opts.spec));

  if (opts.signal.aborted) cancel();
  else opts.signal.addEventListener('abort', cancel, { once: true });

  try {
    const [code, signal] = await exited;
    if (cancelled || violation) killGroup(pid, 'SIGKILL');
    await linesRead(pipesClosed);
    return { pid, code, signal, cancelled, error, violation, stderrTail: tail.join('\n') };
  } finally {
    opts.signal.removeEventListener('abort', cancel);
    log.end();
  }
}

/**
 * 'exit' can come before the last lines of stdout and stderr are read (the result event is often
 * the very last line). Waits for both to close, but not for ever: a grandchild that inherited the
 * pipes and outlived the executor would hold them open.
 */
async function linesRead(closed: Promise<unknown>[], graceMs = STDIO_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
  try {
    await Promise.race([Promise.all(closed), grace]);
  } finally {
    clearTimeout(timer);
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

/** A stdout line that is a protocol line (a JSON object with an `event` name); anything else is log text. */
function protocolLine(line: string): ProtocolLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && 'event' in value && typeof value.event === 'string' ? { ...value, event: value.event } : undefined;
  } catch {
    return undefined;
  }
}
