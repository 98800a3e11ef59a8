import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
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

/**
 * Charts are drawn by matplotlib because the Python side already ships it. The spec goes by
 * file and the script by argument list (never a shell); matplotlib's cache goes to a scratch
 * folder next to the output, so nothing is written to $HOME and nothing is left behind.
 */
export async function renderChart(python: string, spec: ChartSpec, outPng: string): Promise<void> {
  const scratch = await mkdtemp(path.join(path.dirname(outPng), '.chart-'));
  try {
    const specFile = path.join(scratch, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec));
    await promisify(execFile)(python, [SCRIPT, specFile, outPng], {
      env: { ...process.env, MPLCONFIGDIR: scratch, MPLBACKEND: 'Agg' },
      timeout: TIMEOUT_MS,
      maxBuffer: 1 << 20,
    }).catch((err: Error & { stderr?: string }) => {
      throw new ChartRenderError(`charts.py failed: ${lastLines(err.stderr ?? '', STDERR_LINES) || err.message}`, { cause: err });
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
