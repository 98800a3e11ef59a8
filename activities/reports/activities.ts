import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import type { createStorageActivities } from '../storage/activities';
import { asTrackingActivity } from '../tracking/failures';
import { filterLiteral, type MlflowClient, type Run } from '../tracking/mlflow-client';
import type { ChartRenderer, ChartSpec } from './chart';

export interface ReportDeps {
  mlflow: MlflowClient;
  /** Storage activities whose `allowedRoots` include `workDir` (the chart is uploaded from there). */
  storage: ReturnType<typeof createStorageActivities>;
  charts: ChartRenderer;
  /** Scratch folder for the chart files before upload. */
  workDir: string;
}

type Goal = 'maximize' | 'minimize';
type Cell = string | number | boolean | null;
type Row = Record<string, Cell>;

export interface SweepReportInput {
  experimentId: string;
  parentRunId: string;
  artifactUri: string;
  metric: string;
  goal: Goal;
  /** Sweep parameter names; trials log them as params under these names. */
  parameters: string[];
  bestRunId?: string;
  title: string;
}

export interface ComparisonReportInput {
  experimentId: string;
  parentRunId: string;
  artifactUri: string;
  metric: string;
  goal: Goal;
  /** Compare these runs (existing runs, or quantized variants); otherwise the parent's children. */
  runIds?: string[];
  title: string;
  chart: 'scatter' | 'heatmap';
}

export interface ReportFiles {
  csvKey: string;
  chartKey: string;
}

export interface ComparisonReport extends ReportFiles {
  rows: number;
  best?: { runId: string; value: number; label: string };
}

/** Latency of a run for the accuracy-vs-latency chart: plain benchmark, batch size 1, or the quantized copy. */
const LATENCY_KEYS = ['sys.latency_ms', 'sys.bs1.latency_ms', 'quant.sys.latency_ms'];

const tags = (run: Run) => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
const params = (run: Run) => Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
const metrics = (run: Run) => Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));

/** A metric usable for ranking and charts (MLflow can hold NaN and ±Infinity). */
const finite = (run: Run, key: string): number | undefined => {
  const value = metrics(run)[key];
  return Number.isFinite(value) ? value : undefined;
};

const labelOf = (run: Run) => tags(run)['comparison.value'] ?? run.info.run_name ?? run.info.run_id;

/**
 * Results tables and charts of sweeps and comparisons, built from what MLflow recorded (not
 * from workflow state, which keeps no per-trial list), uploaded to the parent run. MLflow
 * refusals become non-retryable failures (asTrackingActivity); a chart failure stays retryable.
 */
export function createReportActivities(deps: ReportDeps) {
  /** All children, however many: searchRuns follows MLflow's pages. */
  const childrenOf = (experimentId: string, parentRunId: string) =>
    asTrackingActivity(() => deps.mlflow.searchRuns({ experimentIds: [experimentId], filter: `tags.mlflow.parentRunId = ${filterLiteral(parentRunId)}` }));

  /** Renders before uploading anything; the artifact names are fixed, so a retried report overwrites itself. */
  const publish = async (artifactUri: string, csvName: string, rows: Row[], chartName: string, spec: ChartSpec): Promise<ReportFiles> => {
    await mkdir(deps.workDir, { recursive: true });
    const dir = await mkdtemp(path.join(deps.workDir, 'report-'));
    try {
      const png = path.join(dir, chartName);
      await deps.charts.render(spec, png);
      const csvKey = await deps.storage.uploadCsv({ artifactUri, artifactPath: csvName, rows });
      const [chartKey] = await deps.storage.uploadArtifacts({ artifactUri, files: [{ localPath: png, artifactPath: chartName }] });
      return { csvKey, chartKey };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    /** `results.csv` (one row per trial, by `sweep.index`) and `sweep_chart.png` on the sweep's parent run. */
    async sweepReport(input: SweepReportInput): Promise<{ trials: number } & ReportFiles> {
      const runs = await childrenOf(input.experimentId, input.parentRunId);
      const trials = runs.map((run) => ({ run, index: sweepIndex(run) })).sort((a, b) => (a.index ?? Infinity) - (b.index ?? Infinity));
      const rows = trials.map(({ run, index }): Row => ({
        index,
        run_id: run.info.run_id,
        run_name: run.info.run_name ?? '',
        status: run.info.status,
        ...Object.fromEntries(input.parameters.map((name) => [name, params(run)[name] ?? null])),
        [input.metric]: metrics(run)[input.metric] ?? null,
        stopped_early: tags(run)['sweep.stopped_early'] === 'true',
      }));
      const spec: ChartSpec = {
        kind: 'trials',
        title: input.title,
        metric: input.metric,
        goal: input.goal,
        trials: trials.flatMap(({ run, index }) =>
          index === null ? [] : [{ index, value: finite(run, input.metric) ?? null, status: run.info.status, stopped_early: tags(run)['sweep.stopped_early'] === 'true' }],
        ),
        best_index: trials.find(({ run }) => run.info.run_id === input.bestRunId)?.index ?? null,
      };
      return { trials: rows.length, ...(await publish(input.artifactUri, 'results.csv', rows, 'sweep_chart.png', spec)) };
    },

    /** `comparison.csv` (one row per compared run, all its metrics) and `comparison_chart.png`; the best run by metric and goal. */
    async comparisonReport(input: ComparisonReportInput): Promise<ComparisonReport> {
      const runs = input.runIds
        ? await Promise.all(input.runIds.map((id) => asTrackingActivity(() => deps.mlflow.getRun(id))))
        : await childrenOf(input.experimentId, input.parentRunId);
      const top = bestOf(runs, input.metric, input.goal);
      const best = top && { runId: top.run.info.run_id, value: top.value, label: labelOf(top.run) };
      const spec = input.chart === 'heatmap' ? heatmap(input, runs) : scatter(input, runs, best?.label ?? null);
      const rows = comparisonRows(runs);
      return { rows: rows.length, best, ...(await publish(input.artifactUri, 'comparison.csv', rows, 'comparison_chart.png', spec)) };
    },
  };
}

/** The trial's position in the sweep; null for a child run that is not a trial. */
function sweepIndex(run: Run): number | null {
  const raw = tags(run)['sweep.index'];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null;
}

/** First run with the best value wins a tie; runs without the metric are not candidates. */
function bestOf(runs: Run[], metric: string, goal: Goal): { run: Run; value: number } | undefined {
  let best: { run: Run; value: number } | undefined;
  for (const run of runs) {
    const value = finite(run, metric);
    if (value !== undefined && (!best || (goal === 'maximize' ? value > best.value : value < best.value))) best = { run, value };
  }
  return best;
}

/** Identity and comparison tags, `model`/`dataset` only when some run has them, then the union of all metrics. */
function comparisonRows(runs: Run[]): Row[] {
  const optional = (['model', 'dataset'] as const).filter((name) => runs.some((run) => tags(run)[`comparison.${name}`] !== undefined));
  const metricKeys = [...new Set(runs.flatMap((run) => Object.keys(metrics(run))))].sort();
  return runs.map((run) => {
    const t = tags(run);
    const m = metrics(run);
    return {
      run_id: run.info.run_id,
      run_name: run.info.run_name ?? '',
      status: run.info.status,
      'comparison.variable': t['comparison.variable'] ?? null,
      'comparison.value': t['comparison.value'] ?? null,
      ...Object.fromEntries(optional.map((name) => [name, t[`comparison.${name}`] ?? null])),
      ...Object.fromEntries(metricKeys.map((key) => [key, m[key] ?? null])),
    };
  });
}

/** Accuracy against latency; runs missing either value are left out of the picture (not of the table). */
function scatter(input: ComparisonReportInput, runs: Run[], bestLabel: string | null): ChartSpec {
  const points = runs.flatMap((run) => {
    const x = LATENCY_KEYS.map((key) => finite(run, key)).find((v) => v !== undefined);
    const y = finite(run, input.metric);
    return x === undefined || y === undefined ? [] : [{ label: labelOf(run), x, y }];
  });
  return { kind: 'scatter', title: input.title, x_label: 'latency (ms)', y_label: input.metric, points, best_label: bestLabel };
}

/** The generalisation matrix: `comparison.model` rows, `comparison.dataset` columns; runs without both tags are left out. */
function heatmap(input: ComparisonReportInput, runs: Run[]): ChartSpec {
  const cells = runs.flatMap((run) => {
    const { 'comparison.model': model, 'comparison.dataset': dataset } = tags(run);
    return model === undefined || dataset === undefined ? [] : [{ model, dataset, value: finite(run, input.metric) ?? null }];
  });
  const rows = [...new Set(cells.map((c) => c.model))];
  const columns = [...new Set(cells.map((c) => c.dataset))];
  const values = rows.map((model) => columns.map((dataset) => cells.find((c) => c.model === model && c.dataset === dataset)?.value ?? null));
  return { kind: 'heatmap', title: input.title, rows, columns, values, row_label: 'model', column_label: 'dataset' };
}
