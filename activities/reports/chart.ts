import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { lastLines } from '../../common/plain-text';
import type { RunStatus } from '../tracking/mlflow-client';

/** One sweep trial as charted; a trial without a value (failed, or metric never logged) is marked on the baseline. */
export interface ChartTrial {
  index: number;
  value: number | null;
  /** MLflow's run status; RUNNING is accepted because a crashed trial's run may never have been closed. */
  status: RunStatus;
  stopped_early: boolean;
}

/** What `executors/charts.py` draws: metric per sweep trial, accuracy vs latency, a model × dataset matrix, or GPU slots' busy/idle timeline. Keys are the script's JSON keys. */
export type ChartSpec =
  | { kind: 'trials'; title: string; metric: string; goal: 'maximize' | 'minimize'; trials: ChartTrial[]; best_index: number | null }
  | { kind: 'scatter'; title: string; x_label: string; y_label: string; points: { label: string; x: number; y: number }[]; best_label: string | null }
  | { kind: 'heatmap'; title: string; rows: string[]; columns: string[]; values: (number | null)[][]; row_label: string; column_label: string }
  | { kind: 'timeline'; title: string; lanes: TimelineLane[] };

/** One GPU slot's row of `gflow report utilisation`: its jobs in seconds since the first job started. */
export interface TimelineLane {
  label: string;
  jobs: { start: number; end: number; outcome: 'completed' | 'failed' | 'cancelled' | 'timed_out' | 'running' }[];
}

/** charts.py failed (bad spec: exit 2 with the field named; or Python/matplotlib trouble); the end of its stderr is in the message. */
export class ChartRenderError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'ChartRenderError';
  }
}

const SCRIPT = path.resolve(__dirname, '..', '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []), 'executors', 'charts.py');
const TIMEOUT_MS = 120_000;
/** A traceback's last lines say what went wrong; the rest would bury the failure message. */
const STDERR_LINES = 8;
const STDERR_KEPT = 16_384;

export interface ChartRendererOptions {
  python: string;
  /**
   * matplotlib's cache (its font list): kept between charts, since building it costs each chart
   * about as much as drawing it. Without one, charts.py uses a temporary folder per chart, so
   * nothing is written to $HOME.
   */
  cacheDir?: string;
  /**
   * Keep one charts.py started ahead, matplotlib loaded, waiting for the next chart: Python's
   * start-up with matplotlib is ~3/4 of a chart's time, and a sweep's report is what its
   * completion waits on after the last trial. For long-running workers (an idle Python process);
   * one-shot commands and tests leave it off.
   */
  warm?: boolean;
}

/** A charts.py waiting for its one request on stdin (`--request-on-stdin`). */
interface ChartProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** Resolves when the script says `done`: the PNG is written, and its interpreter's shut-down need not be waited for. */
  done: Promise<void>;
  stderr: () => string;
}

/**
 * Draws charts with executors/charts.py (matplotlib, because the Python side already ships it).
 * The spec goes to the script's stdin and the script by argument list (never a shell). A warm
 * renderer's spare process is unreferenced: it does not keep Node alive, and it exits when its
 * stdin closes, so it dies with the worker that started it, however that ends.
 */
export class ChartRenderer {
  private spare?: ChartProcess;
  private closed = false;

  constructor(private readonly opts: ChartRendererOptions) {
    if (opts.warm) this.spare = this.start({ ahead: true });
  }

  async render(spec: ChartSpec, outPng: string): Promise<void> {
    const proc = this.take();
    try {
      await draw(proc, spec, outPng);
    } finally {
      if (this.opts.warm && !this.closed && !this.spare) this.spare = this.start({ ahead: true });
    }
  }

  /** Stops the spare process; renders after this start their own. */
  close(): void {
    this.closed = true;
    this.spare?.child.kill('SIGKILL');
    this.spare = undefined;
  }

  /** The spare if it is still alive (it may have been killed, or failed to start), else a new process. */
  private take(): ChartProcess {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.child.exitCode === null && spare.child.signalCode === null && spare.child.pid !== undefined) return spare;
    return this.start({ ahead: false });
  }

  /** A process started `ahead` of its request also draws a throw-away chart while it waits (fonts, renderer); one needed now does not. */
  private start({ ahead }: { ahead: boolean }): ChartProcess {
    const env = { ...process.env, MPLBACKEND: 'Agg', ...(this.opts.cacheDir && { MPLCONFIGDIR: this.opts.cacheDir }) };
    const child = spawn(this.opts.python, [SCRIPT, '--request-on-stdin', ...(ahead ? ['--warm-up'] : [])], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const done = new Promise<void>((resolve) => {
      let stdout = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (/^done$/m.test(stdout)) resolve();
      });
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEPT);
    });
    // a process that died before its request is written: its exit says why
    child.stdin?.on('error', () => undefined);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    setReferenced(child, false);
    return { child, exited, done, stderr: () => stderr };
  }
}

/** Hands the spec to a charts.py process and waits for its PNG (or its error, with its last stderr lines). */
async function draw(proc: ChartProcess, spec: ChartSpec, outPng: string): Promise<void> {
  setReferenced(proc.child, true);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), TIMEOUT_MS);
  try {
    proc.child.stdin?.end(JSON.stringify({ spec, out: outPng }) + '\n');
    const ended = await Promise.race([proc.done.then(() => undefined), proc.exited]);
    if (ended === undefined) {
      setReferenced(proc.child, false);
      return;
    }
    const { code, signal, error } = ended;
    if (code === 0) return;
    const why = lastLines(proc.stderr(), STDERR_LINES) || error?.message || (signal === 'SIGKILL' ? `killed after ${TIMEOUT_MS / 1000} s` : `exit ${code ?? signal}`);
    throw new ChartRenderError(`charts.py failed: ${why}`, { cause: error ?? new Error(`charts.py exited with ${code ?? signal}`) });
  } finally {
    clearTimeout(timer);
  }
}

/** A spare process and its pipes must not keep Node running; a chart being drawn must. */
function setReferenced(child: ChildProcess, referenced: boolean): void {
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as ({ ref(): void; unref(): void } | null)[]) {
    if (referenced) handle?.ref();
    else handle?.unref();
  }
}

/** matplotlib's cache under a stack's state folder: shared by the control worker's reports and the CLI's charts. */
export const chartCacheDir = (stateDir: string): string => path.join(stateDir, 'matplotlib');

/** One chart with a process of its own (commands that draw one chart and exit). */
export function renderChart(python: string, spec: ChartSpec, outPng: string, cacheDir?: string): Promise<void> {
  return new ChartRenderer({ python, cacheDir }).render(spec, outPng);
}
