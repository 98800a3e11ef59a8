import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { mlflowClientFor } from '../activities/tracking/mlflow-client';
import type { Settings } from '../common/settings';
import type { z } from 'zod';
import {
  alerts,
  comparison,
  CompareBy,
  exportFleet,
  FLEET_METRIC_KEYS,
  loadAlertRules,
  NO_RULES_FILE,
  AlertRulesFileError,
  openFleetStore,
  summary,
  trend,
  trendByDay,
  type FleetMetricKey,
  type FleetMetrics,
  type AlertRulesFile,
  type FleetSnapshot,
  type ModelSummary,
} from '../fleet';
import { AlertsQuery, asFlag, ComparisonQuery, ExportQuery, filterOf, parseQuery, QueryParamError, SummaryQuery, TrendQuery } from '../fleet/query-params';
import { TaskType } from '../scenarios/schema';
import { CliError } from './cli-error';
import { serverError } from './server-errors';
import { registerScreenshotCommand } from './screenshot-command';
import { formatTable } from './table';

/**
 * `gflow metrics summary|trend|compare|export` and `gflow alerts list`: the fleet store's queries
 * in the terminal (tables) or for scripts (`--json`). Each command refreshes the store first,
 * reading only what changed since the cache in `<GF_STATE_DIR>/fleet/` was written. Flags are
 * checked by the same zod schemas as the HTTP API's query parameters (fleet/query-params.ts).
 */

interface FilterFlags {
  customer?: string;
  site?: string;
  task?: string;
  json?: boolean;
  full?: boolean;
}

/** The default alerts file, looked for in the current directory. */
const ALERTS_FILE = 'alerts.yaml';

const filterOptions = (command: Command) =>
  command
    .option('--customer <customer>', 'only this customer’s sites')
    .option('--site <site>', 'only this site: {customer}/{region}-{plant}/{zone}')
    .option('--task <task>', `only this task (${Object.values(TaskType).join(', ')})`)
    .option('--json', 'print JSON for scripts instead of a table')
    .option('--full', 'read everything from MLflow again instead of only what changed');

export function registerMetricsCommands(program: Command, settings: Settings): void {
  const metrics = program.command('metrics').description('fleet metrics across every site: summary, trend, comparison, export, screenshot');
  registerScreenshotCommand(metrics, settings);

  filterOptions(metrics.command('summary').description('per site × task: champion, its numbers, runs in the window, best candidate'))
    .option('--days <n>', 'the window for counting runs', '7')
    .action(async (opts: FilterFlags & { days: string }) => {
      const { days, ...filter } = queryFrom(SummaryQuery, { customer: opts.customer, site: opts.site, task: opts.task, days: opts.days });
      const rows = summary(await snapshotOf(settings, opts.full), { filter: filterOf(filter), days });
      if (opts.json) return printJson(rows);
      const variants = (list: ModelSummary[]) => list.map((v) => `${v.variant} v${v.version}`).join(', ');
      print(
        formatTable(
          [{ header: 'site' }, { header: 'task' }, { header: 'champion' }, { header: 'mAP50', right: true }, { header: 'p95 ms', right: true }, { header: 'fps', right: true }, { header: `runs ${days}d`, right: true }, { header: 'last run' }, { header: 'best candidate' }, { header: 'variant champions' }],
          rows.map((r) => [
            r.siteKey,
            r.task,
            r.champion ? `v${r.champion.version}` : '-',
            num(r.champion?.metrics['det.mAP50'], 3),
            num(r.champion?.metrics['sys.latency_ms_p95'], 1),
            num(r.champion?.metrics['sys.fps'], 1),
            String(r.runsInWindow),
            r.lastRunAt === null ? '-' : day(r.lastRunAt),
            r.bestCandidate ? `${r.bestCandidate.variant ?? ''}${r.bestCandidate.variant ? ' ' : ''}v${r.bestCandidate.version} (${num(r.bestCandidate.metrics['det.mAP50'], 3)})` : '-',
            variants(r.variantChampions),
          ]),
        ),
        rows.length,
        'site tasks',
      );
    });

  filterOptions(metrics.command('trend').description('one metric over time for a site’s task, per run or per day; * marks champion runs'))
    .requiredOption('--metric <key>', `a fleet metric (${FLEET_METRIC_KEYS.join(', ')}; mAP50 for det.mAP50)`)
    .option('--by <run|day>', 'one point per run, or per UTC day (mean, min, max)', 'run')
    .option('--days <n>', 'only the last N days')
    .action(async (opts: FilterFlags & { metric: string; by: string; days?: string }) => {
      const query = queryFrom(TrendQuery, { customer: opts.customer, site: opts.site, task: opts.task, metric: opts.metric, by: opts.by, days: opts.days });
      const { metric, by } = query;
      const points = trend(await snapshotOf(settings, opts.full), { filter: filterOf(query), metric, days: query.days });
      if (by === 'day') {
        const perDay = trendByDay(points);
        if (opts.json) return printJson({ metric, by, points: perDay });
        return print(
          formatTable(
            [{ header: 'day' }, { header: 'mean', right: true }, { header: 'min', right: true }, { header: 'max', right: true }, { header: 'runs', right: true }, { header: 'champion' }],
            perDay.map((d) => [d.day, num(d.mean, 3), num(d.min, 3), num(d.max, 3), String(d.count), d.champion ? '*' : '']),
          ),
          perDay.length,
          'days',
        );
      }
      if (opts.json) return printJson({ metric, by, points });
      print(
        formatTable(
          [{ header: 'started' }, { header: 'site' }, { header: 'run' }, { header: metric, right: true }, { header: 'champion' }],
          points.map((p) => [new Date(p.time).toISOString().slice(0, 16).replace('T', ' '), p.siteKey, p.runName, num(p.value, 3), p.champion ? '*' : '']),
        ),
        points.length,
        'runs',
      );
    });

  filterOptions(metrics.command('compare').description('architectures or registered versions of a site’s task side by side'))
    .option('--by <architecture|version>', 'what to compare', CompareBy.architecture)
    .action(async (opts: FilterFlags & { by: string }) => {
      const query = queryFrom(ComparisonQuery, { customer: opts.customer, site: opts.site, task: opts.task, by: opts.by });
      const { by } = query;
      const rows = comparison(await snapshotOf(settings, opts.full), { filter: filterOf(query), by });
      if (opts.json) return printJson(rows);
      const shown: FleetMetricKey[] = ['det.mAP50', 'det.mAP50_95', 'sys.latency_ms_p95', 'sys.fps'];
      print(
        formatTable(
          [{ header: by }, { header: 'runs', right: true }, ...shown.map((k) => ({ header: k, right: true })), { header: 'aliases' }],
          rows.map((r) => [r.key, String(r.runs), ...shown.map((k) => metricCell(r.metrics, k)), r.aliases.join(',') || (r.champion ? 'champion run' : '')]),
        ),
        rows.length,
        by === CompareBy.version ? 'versions' : 'architectures',
      );
    });

  metrics
    .command('export')
    .description('write every run of the fleet as one table: DIR/fleet-runs.parquet or .csv')
    .requiredOption('--format <parquet|csv>', 'parquet (pandas, pyarrow, DuckDB) or csv')
    .requiredOption('--output <dir>', 'the folder to write into (created if missing)')
    .option('--full', 'read everything from MLflow again instead of only what changed')
    .action(async (opts: { format: string; output: string; full?: boolean }) => {
      const { format, output } = queryFrom(ExportQuery, { format: opts.format, output: opts.output });
      const snapshot = await snapshotOf(settings, opts.full);
      const file = await exportFleet(snapshot, format, output);
      console.log(`${file}: ${snapshot.runs.length} runs`);
    });

  const alertsCommand = program.command('alerts').description('what needs attention across the fleet');
  filterOptions(alertsCommand.command('list').description(`champions below mAP50 / above latency p95 thresholds, drops versus the previous champion, sites without recent runs`))
    .option('--rules <file>', `alert thresholds (default: ./${ALERTS_FILE} when present, else the built-in defaults)`)
    .action(async (opts: FilterFlags & { rules?: string }) => {
      const filter = filterOf(queryFrom(AlertsQuery, { customer: opts.customer, site: opts.site, task: opts.task }));
      const { file, rules } = await alertRulesFrom(opts.rules);
      const found = alerts(await snapshotOf(settings, opts.full), rules, { filter });
      if (opts.json) return printJson(found);
      print(
        formatTable(
          [{ header: 'severity' }, { header: 'rule' }, { header: 'site' }, { header: 'task' }, { header: 'detail' }],
          found.map((a) => [a.severity, a.rule, a.siteKey, a.task, a.message]),
        ),
        found.length,
        'alerts',
      );
      console.log(`rules: ${file ?? 'built-in defaults'}`);
    });
}

/** A refreshed snapshot; an unreachable MLflow is a user-facing error (also used by `gflow optimize`). */
export async function snapshotOf(settings: Settings, full = false): Promise<FleetSnapshot> {
  const store = openFleetStore(settings, mlflowClientFor(settings));
  try {
    return (await store.refresh({ full })).snapshot;
  } catch (err) {
    throw serverError(err) ?? err;
  }
}

/** The alert rules of `--rules <file>`, else ./alerts.yaml when present, else the built-in defaults (`file` undefined). */
export async function alertRulesFrom(flag: string | undefined): Promise<{ file: string | undefined; rules: AlertRulesFile }> {
  const file = flag ?? (existsSync(ALERTS_FILE) ? ALERTS_FILE : undefined);
  return { file, rules: file ? await loadAlertRules(file).catch(asCliError) : NO_RULES_FILE };
}

function asCliError(err: unknown): never {
  if (err instanceof AlertRulesFileError) throw new CliError(err.message, 2, { cause: err });
  throw err;
}

/** Flags through the shared query schema; a bad one exits 2 with the flag named, as the API's 400 names the parameter. */
function queryFrom<S extends z.ZodType>(schema: S, flags: Record<string, string | undefined>): z.output<S> {
  try {
    return parseQuery(schema, flags, asFlag);
  } catch (err) {
    if (err instanceof QueryParamError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

const num = (v: number | undefined, digits: number) => (v === undefined ? '-' : v.toFixed(digits));
const metricCell = (m: FleetMetrics, k: FleetMetricKey) => num(m[k], k.startsWith('sys.') ? 1 : 3);
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** The table and its count, or one line saying there is nothing. */
function print(table: string, count: number, noun: string): void {
  console.log(count === 0 ? `no ${noun}` : `${table}\n${count} ${noun}`);
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
