import { resolveMetricAlias, ULTRALYTICS_NAMES } from '../scenarios/metric-keys';

/** One epoch's (or one report's) metrics at its 1-based step, as MLflow gets them. */
export interface MetricStep {
  step: number;
  metrics: Record<string, number>;
}

/** Keys MLflow accepts (docs/architecture.md §9). */
const MLFLOW_KEY = /^[/\w.\- :]{1,250}$/;

/** Our key for a metric a script names: ultralytics' and the seeds' names become the native runs' `det.*` keys. */
export function metricKey(name: string): string {
  const lr = /^lr\/(pg\d+)$/.exec(name);
  if (lr) return `train.lr_${lr[1]}`;
  return Object.hasOwn(ULTRALYTICS_NAMES, name) ? ULTRALYTICS_NAMES[name] : resolveMetricAlias(name);
}

/** Adds `det.f1` where precision and recall are both there, as executors/train.py does for native runs. */
function withF1(metrics: Record<string, number>): Record<string, number> {
  const p = metrics['det.precision'];
  const r = metrics['det.recall'];
  if (p === undefined || r === undefined) return metrics;
  return { ...metrics, 'det.f1': p + r > 0 ? (2 * p * r) / (p + r) : 0 };
}

/**
 * ultralytics' `results.csv` as per-epoch metrics under the native runs' keys (`det.mAP50`,
 * `det.box_loss`, `train.lr_pg0`, …). Older versions pad headers with spaces; `epoch` is the step
 * (1-based since 8.1; a 0-based file is shifted). Columns we have no key for (`time`) are left out,
 * and so are non-finite values (absent, never 0).
 */
export function parseResultsCsv(text: string): MetricStep[] {
  const [header, ...rows] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (!header) return [];
  const columns = header.split(',').map((c) => c.trim());
  const epochAt = columns.indexOf('epoch');
  const steps = rows.map((row, i) => {
    const cells = row.split(',').map((c) => Number(c.trim()));
    const metrics: Record<string, number> = {};
    columns.forEach((column, c) => {
      const key = column === 'epoch' ? undefined : metricKey(column);
      const value = cells[c];
      if (key && key !== column && value !== undefined && Number.isFinite(value)) metrics[key] = value;
    });
    const epoch = epochAt >= 0 && Number.isFinite(cells[epochAt]) ? cells[epochAt] : i + 1;
    return { step: epoch, metrics: withF1(metrics) };
  });
  const shift = steps[0]?.step === 0 ? 1 : 0;
  return steps.map((s) => ({ ...s, step: s.step + shift }));
}

/**
 * Metrics from stdout lines the regex picks (named groups `key` and `value`); each key's n-th value
 * is logged at step n, so a script printing per epoch gets a history. Keys MLflow would refuse are
 * dropped rather than failing the run.
 */
export class StdoutMetrics {
  private readonly pattern: RegExp;
  private readonly seen = new Map<string, number[]>();

  constructor(regex: string) {
    this.pattern = new RegExp(regex);
  }

  read(line: string): void {
    const groups = this.pattern.exec(line)?.groups;
    const key = groups?.key === undefined ? undefined : metricKey(groups.key);
    const value = Number(groups?.value);
    if (!key || !MLFLOW_KEY.test(key) || !Number.isFinite(value)) return;
    this.seen.set(key, [...(this.seen.get(key) ?? []), value]);
  }

  steps(): MetricStep[] {
    const steps: MetricStep[] = [];
    for (const [key, values] of this.seen) {
      values.forEach((value, i) => {
        const step = steps[i] ?? (steps[i] = { step: i + 1, metrics: {} });
        step.metrics[key] = value;
      });
    }
    return steps;
  }
}

/** The last value of every key over all steps: the run's final metrics. */
export function finalMetrics(steps: MetricStep[]): Record<string, number> {
  return Object.assign({}, ...steps.map((s) => s.metrics)) as Record<string, number>;
}
