import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { createStorageActivities } from '../storage/activities';
import { asTrackingActivity } from '../tracking/failures';
import { filterLiteral, type MlflowClient, type Run } from '../tracking/mlflow-client';
import { renderChart, type ChartSpec } from './chart';

export interface ReportDeps {
  mlflow: MlflowClient;
  /** Storage activities allowed to upload from `workDir`. */
  storage: ReturnType<typeof createStorageActivities>;
  python: string;
  /** Scratch folder for the chart files before upload. */
  workDir: string;
}

type Goal = 'maximize' | 'minimize';
type Cell = string | number | boolean | null;

export interface SweepReportInput {
  experimentId: string;
  parentRunId: string;
  artifactUri: string;
  metric: string;
  goal: Goal;
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

export interface ComparisonReport {
  rows: number;
  best?: { runId: string; value: number; label: string };
}

const LATENCY_KEYS = ['sys.latency_ms', 'sys.bs1.latency_ms', 'quant.sys.latency_ms'];

const tags = (run: Run) => Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
const params = (run: Run) => Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
const metrics = (run: Run) => Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));

/**
 * Results tables and charts of sweeps and comparisons, built from what MLflow recorded (not
 * from workflow state, which keeps no per-trial list), uploaded to the parent run.
 */
export function createReportActivities(deps: ReportDeps) {
  const childrenOf = (experimentId: string, parentRunId: string) =>
    asTrackingActivity(() => deps.mlflow.searchRuns({ experimentIds: [experimentId], filter: `tags.mlflow.parentRunId = ${filterLiteral(parentRunId)}` }));

  /** Uploads the table and the chart; the file names are fixed, so a retried report overwrites itself. */
  const publish = async (artifactUri: string, csvName: string, rows: Record<string, Cell>[], chartName: string, spec: ChartSpec) => {
    const dir = path.join(deps.workDir, Context.current().info.activityId + '-' + Date.now());
    await mkdir(dir, { recursive: true });
    try {
      const png = path.join(dir, chartName);
      await renderChart(deps.python, spec, png);
      const csvKey = await deps.storage.uploadCsv({ artifactUri, artifactPath: csvName, rows });
      const [chartKey] = await deps.storage.uploadArtifacts({ artifactUri, files: [{ localPath: png, artifactPath: chartName }] });
      return { csvKey, chartKey };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    /** `results.csv` (one row per trial, by `sweep.index`) and `sweep_chart.png` on the sweep's parent run. */
    async sweepReport(input: SweepReportInput): Promise<{ trials: number; csvKey: string; chartKey: string }> {
      const runs = (await childrenOf(input.experimentId, input.parentRunId)).sort((a, b) => Number(tags(a)['sweep.index']) - Number(tags(b)['sweep.index']));
      const rows = runs.map((run): Record<string, Cell> & { index: number; run_id: string; status: string; stopped_early: boolean } => {
        const t = tags(run);
        const p = params(run);
        return {
          index: Number(t['sweep.index']),
          run_id: run.info.run_id,
          run_name: run.info.run_name ?? '',
          status: run.info.status,
          ...Object.fromEntries(input.parameters.map((name) => [name, p[name] ?? null])),
          [input.metric]: metrics(run)[input.metric] ?? null,
          stopped_early: t['sweep.stopped_early'] === 'true',
        };
      });
      const best = rows.find((r) => r.run_id === input.bestRunId);
      const spec: ChartSpec = {
        kind: 'trials',
        title: input.title,
        metric: input.metric,
        goal: input.goal,
        trials: rows.map((r) => ({ index: r.index, value: r[input.metric] as number | null, status: r.status, stopped_early: r.stopped_early })),
        best_index: best?.index ?? null,
      };
      return { trials: rows.length, ...(await publish(input.artifactUri, 'results.csv', rows, 'sweep_chart.png', spec)) };
    },

    /** `comparison.csv` (one row per compared run, all its metrics) and `comparison_chart.png`; the best run by metric and goal. */
    async comparisonReport(input: ComparisonReportInput): Promise<ComparisonReport & { csvKey: string; chartKey: string }> {
      const runs = input.runIds
        ? await Promise.all(input.runIds.map((id) => asTrackingActivity(() => deps.mlflow.getRun(id))))
        : await childrenOf(input.experimentId, input.parentRunId);
      const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(metrics(r))))].sort();
      const labelOf = (run: Run) => tags(run)['comparison.value'] ?? run.info.run_name ?? run.info.run_id;
      const rows = runs.map((run) => {
        const t = tags(run);
        const m = metrics(run);
        return {
          run_id: run.info.run_id,
          run_name: run.info.run_name ?? '',
          status: run.info.status,
          'comparison.variable': t['comparison.variable'] ?? null,
          'comparison.value': labelOf(run),
          model: t['comparison.model'] ?? null,
          dataset: t['comparison.dataset'] ?? null,
          ...Object.fromEntries(metricKeys.map((k) => [k, m[k] ?? null])),
        };
      });
      const scored = runs.filter((r) => metrics(r)[input.metric] !== undefined);
      const bestRun = scored.reduce<Run | undefined>((best, r) => {
        if (!best) return r;
        const [a, b] = [metrics(r)[input.metric], metrics(best)[input.metric]];
        return (input.goal === 'maximize' ? a > b : a < b) ? r : best;
      }, undefined);
      const best = bestRun && { runId: bestRun.info.run_id, value: metrics(bestRun)[input.metric], label: labelOf(bestRun) };
      const spec = input.chart === 'heatmap' ? heatmap(input, runs) : scatter(input, runs, labelOf, best?.label ?? null);
      return { rows: rows.length, best, ...(await publish(input.artifactUri, 'comparison.csv', rows, 'comparison_chart.png', spec)) };
    },
  };
}

function scatter(input: ComparisonReportInput, runs: Run[], labelOf: (r: Run) => string, bestLabel: string | null): ChartSpec {
  const points = runs.flatMap((run) => {
    const m = metrics(run);
    const latency = LATENCY_KEYS.map((k) => m[k]).find((v) => v !== undefined);
    const y = m[input.metric];
    return latency === undefined || y === undefined ? [] : [{ label: labelOf(run), x: latency, y }];
  });
  return { kind: 'scatter', title: input.title, x_label: 'latency (ms)', y_label: input.metric, points, best_label: bestLabel };
}

/** The generalisation matrix: models as rows, datasets as columns. */
function heatmap(input: ComparisonReportInput, runs: Run[]): ChartSpec {
  const cell = (run: Run) => ({ model: tags(run)['comparison.model'] ?? 'model', dataset: tags(run)['comparison.dataset'] ?? tags(run)['comparison.value'] ?? run.info.run_id });
  const rows = [...new Set(runs.map((r) => cell(r).model))];
  const columns = [...new Set(runs.map((r) => cell(r).dataset))];
  const values = rows.map((model) =>
    columns.map((dataset) => {
      const run = runs.find((r) => cell(r).model === model && cell(r).dataset === dataset);
      return run ? (metrics(run)[input.metric] ?? null) : null;
    }),
  );
  return { kind: 'heatmap', title: input.title, rows, columns, values, row_label: 'model', column_label: 'dataset' };
}
