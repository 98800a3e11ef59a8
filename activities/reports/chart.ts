import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** What `executors/charts.py` draws: metric per sweep trial, accuracy vs latency, or a model × dataset matrix. */
export type ChartSpec =
  | { kind: 'trials'; title: string; metric: string; goal: 'maximize' | 'minimize'; trials: { index: number; value: number | null; status: string; stopped_early: boolean }[]; best_index: number | null }
  | { kind: 'scatter'; title: string; x_label: string; y_label: string; points: { label: string; x: number; y: number }[]; best_label: string | null }
  | { kind: 'heatmap'; title: string; rows: string[]; columns: string[]; values: (number | null)[][]; row_label: string; column_label: string };

export class ChartRenderError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChartRenderError';
  }
}

const SCRIPT = path.resolve(__dirname, '..', '..', ...(__dirname.split(path.sep).includes('dist') ? ['..'] : []), 'executors', 'charts.py');

/** Charts come from matplotlib (the Python side already has it); the spec goes by file, never through a shell. */
export async function renderChart(python: string, spec: ChartSpec, outPng: string): Promise<void> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'gflow-chart-'));
  try {
    const specFile = path.join(scratch, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec));
    await promisify(execFile)(python, [SCRIPT, specFile, outPng], { env: { ...process.env, MPLCONFIGDIR: scratch }, maxBuffer: 1 << 20 }).catch((err: Error & { stderr?: string }) => {
      throw new ChartRenderError(`charts.py failed: ${err.stderr?.trim() || err.message}`, { cause: err });
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
