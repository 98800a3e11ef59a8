import { GetObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../activities/storage/s3-client';
import { artifactKey } from '../../activities/storage/artifact-location';
import type { Settings } from '../../common/settings';
import type { Stack } from './harness';

/**
 * What a run left behind, read the way a person would check it: artifacts straight from the
 * bucket and registry aliases from MLflow, never through the code that wrote them.
 */

/** The text of one artifact of a run (e.g. `summary.csv`), from the S3 bucket. */
export async function artifactText(settings: Settings, artifactUri: string, artifactPath: string): Promise<string> {
  const s3 = createS3Client(settings.s3);
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: settings.s3.bucket, Key: artifactKey(settings.s3, artifactUri, artifactPath) }));
    return await object.Body!.transformToString('utf8');
  } finally {
    s3.destroy();
  }
}

export interface CsvTable {
  header: string[];
  rows: Record<string, string>[];
}

/** RFC 4180 CSV (quoted fields, doubled quotes, commas and line breaks inside quotes) as header and records. */
export function parseCsv(text: string): CsvTable {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') field += text[++i];
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      records.push([...record, field]);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length > 0) records.push([...record, field]);
  const [header = [], ...body] = records;
  for (const [i, r] of body.entries()) if (r.length !== header.length) throw new Error(`CSV row ${i + 1} has ${r.length} fields, the header ${header.length}`);
  return { header, rows: body.map((r) => Object.fromEntries(header.map((name, i) => [name, r[i]]))) };
}

/** A CSV boolean cell, which the product writes as `true` / `false`. */
export function csvBool(cell: string | undefined): boolean {
  if (cell === 'true') return true;
  if (cell === 'false') return false;
  throw new Error(`not a boolean CSV cell: ${JSON.stringify(cell)}`);
}

/** A registered model's aliases (alias → version), from MLflow. */
export async function aliasesOf(stack: Stack, name: string): Promise<Record<string, string>> {
  const model = await stack.mlflow.getRegisteredModel(name);
  return Object.fromEntries((model?.aliases ?? []).map((a) => [a.alias, a.version]));
}

/** The site tags of a site model's runs (`{customer}.{region}-{plant}.{zone}.{task}`), so the fleet reads them as that site's. */
export function siteTagsOf(model: string): { key: string; value: string }[] {
  const [customer, regionPlant, zone, task] = model.split('__')[0].split('.');
  const dash = regionPlant.indexOf('-');
  const tags = { 'site.customer': customer, 'site.region': regionPlant.slice(0, dash), 'site.plant': regionPlant.slice(dash + 1), 'site.zone': zone, 'task.type': task };
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

/**
 * A finished benchmark run of `models:/{model}/{version}` in the experiment of the version's
 * training run, as a site's benchmark (the pipeline's infer stage) records one: what the fleet
 * and a soak read as the version's numbers.
 */
export async function recordBenchmark(stack: Stack, model: string, version: string, metrics: Record<string, number>): Promise<string> {
  const registered = await stack.mlflow.getModelVersion(model, version);
  const { info } = await stack.mlflow.getRun(registered!.run_id!);
  const tags = [...siteTagsOf(model), { key: 'model.source', value: `models:/${model}/${version}` }, { key: 'exp.type', value: 'infer' }];
  const run = await stack.mlflow.createRun({ experimentId: info.experiment_id, runName: `bench-${model}-v${version}`, tags });
  await stack.mlflow.logBatch(run.run_id, { metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, timestamp: Date.now(), step: 0 })) });
  await stack.mlflow.updateRun(run.run_id, 'FINISHED');
  return run.run_id;
}
