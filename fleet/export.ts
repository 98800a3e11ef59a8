import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ParquetSchema } from '@dsnp/parquetjs';
import { stringify } from 'csv-stringify/sync';
import { FLEET_METRIC_KEYS, type FleetRun, type FleetSnapshot } from './records';

/**
 * The fleet's runs as one flat table, for pandas, pyarrow, DuckDB or a spreadsheet: one row per
 * run, site and model columns, one column per fleet metric named by its MLflow key (`det.mAP50`).
 */

export const ExportFormat = { parquet: 'parquet', csv: 'csv' } as const;
export type ExportFormat = (typeof ExportFormat)[keyof typeof ExportFormat];

/** The file name of an export in its folder. */
export const EXPORT_BASENAME = 'fleet-runs';

const TEXT_COLUMNS = [
  'run_id',
  'run_name',
  'experiment_id',
  'site',
  'customer',
  'region',
  'plant',
  'zone',
  'task',
  'architecture',
  'type',
  'design',
  'version',
  'parent_run_id',
  'status',
  'model_name',
  'model_version',
  'model_aliases',
  'model_source',
] as const;
const TIME_COLUMNS = ['start_time', 'end_time'] as const;

type Row = Record<(typeof TEXT_COLUMNS)[number], string | null> & Record<(typeof TIME_COLUMNS)[number], Date | null> & Record<string, unknown>;

function toRow(run: FleetRun): Row {
  return {
    run_id: run.runId,
    run_name: run.runName,
    experiment_id: run.experimentId,
    site: run.siteKey,
    ...run.site,
    task: run.task,
    architecture: run.architecture,
    type: run.type,
    design: run.design,
    version: run.version,
    parent_run_id: run.parentRunId,
    status: run.status,
    model_name: run.model?.name ?? null,
    model_version: run.model?.version ?? null,
    /** Several aliases on one version are joined with `,`. */
    model_aliases: run.model ? run.model.aliases.join(',') : null,
    model_source: run.modelSource,
    start_time: new Date(run.startTime),
    end_time: run.endTime === null ? null : new Date(run.endTime),
    ...Object.fromEntries(FLEET_METRIC_KEYS.map((k) => [k, run.metrics[k] ?? null])),
  };
}

/** Parquet types: text as UTF8 strings, times as UTC milliseconds, metrics as doubles; every column nullable except the run id and start. */
function parquetSchema(parquet: typeof import('@dsnp/parquetjs')): ParquetSchema {
  return new parquet.ParquetSchema({
    ...Object.fromEntries(TEXT_COLUMNS.map((c) => [c, { type: 'UTF8', optional: c !== 'run_id' }])),
    start_time: { type: 'TIMESTAMP_MILLIS' },
    end_time: { type: 'TIMESTAMP_MILLIS', optional: true },
    ...Object.fromEntries(FLEET_METRIC_KEYS.map((k) => [k, { type: 'DOUBLE', optional: true }])),
  });
}

/**
 * Writes `{dir}/fleet-runs.{parquet|csv}` (runs sorted by site, task and start) and returns its
 * path. Written under a temporary name and renamed, so a reader never opens half a file.
 */
export async function exportFleet(snapshot: FleetSnapshot, format: ExportFormat, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${EXPORT_BASENAME}.${format}`);
  const temp = `${file}.${process.pid}.tmp`;
  const rows = [...snapshot.runs]
    .sort((a, b) => a.siteKey.localeCompare(b.siteKey) || a.task.localeCompare(b.task) || a.startTime - b.startTime || a.runId.localeCompare(b.runId))
    .map(toRow);
  if (format === ExportFormat.parquet) {
    // loaded on use: the library and its dependencies would otherwise slow every gflow command's start
    const parquet = await import('@dsnp/parquetjs');
    const writer = await parquet.ParquetWriter.openFile(parquetSchema(parquet), temp);
    for (const row of rows) await writer.appendRow(row);
    await writer.close();
  } else {
    const columns = [...TEXT_COLUMNS, ...TIME_COLUMNS, ...FLEET_METRIC_KEYS];
    const cells = rows.map((row) =>
      columns.map((c) => {
        const cell = row[c];
        return cell instanceof Date ? cell.toISOString() : (cell ?? '');
      }),
    );
    await writeFile(temp, stringify(cells, { header: true, columns: [...columns] }));
  }
  await rename(temp, file);
  return file;
}
