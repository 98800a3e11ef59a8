import type { Command } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../activities/storage/s3-client';
import { InvalidDatasetError, readManifest } from '../activities/storage/dataset-manifest';
import { DatasetPushError, listDatasets, pushDataset } from '../activities/storage/dataset-store';
import type { Settings } from '../common/settings';
import { isObjectStoreDataset, parseDatasetUri } from '../scenarios/dataset-uri';
import type { ScenarioIssue } from '../scenarios/validate';
import type { Scenario } from '../scenarios/schema';
import { CliError } from './cli-error';
import { formatTable } from './table';

async function withS3<T>(settings: Settings, work: (s3: S3Client) => Promise<T>): Promise<T> {
  const s3 = createS3Client(settings.s3);
  try {
    return await work(s3);
  } finally {
    s3.destroy();
  }
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/**
 * Issues for each `s3://` dataset of a scenario (`dataset.path`, `comparison.datasets.N.path`)
 * whose manifest is not in the object store, so a scenario naming a dataset nobody pushed is
 * refused before it starts, like a missing local file.
 */
export async function datasetManifestIssues(settings: Settings, s: Scenario): Promise<ScenarioIssue[]> {
  const fields: [string, string][] = [['dataset.path', s.dataset.path], ...(s.comparison?.datasets ?? []).map((d, i): [string, string] => [`comparison.datasets.${i}.path`, d.path])];
  const remote = fields.filter(([, p]) => isObjectStoreDataset(p));
  if (remote.length === 0) return [];
  return withS3(settings, async (s3) => {
    const issues: ScenarioIssue[] = [];
    for (const [field, uri] of remote) {
      const location = parseDatasetUri(uri);
      if ('error' in location) issues.push({ path: field, message: location.error });
      else
        await readManifest(s3, location).catch((err: unknown) => {
          if (!(err instanceof InvalidDatasetError)) throw err;
          issues.push({ path: field, message: err.message });
        });
    }
    return issues;
  });
}

/** `gflow data push|list`: datasets in the object store, for GPU hosts that do not hold them. */
export function registerDataCommands(program: Command, settings: Settings): void {
  const data = program.command('data').description('datasets in the object store (s3:// dataset paths)');

  data
    .command('push <folder>')
    .description('upload a dataset folder (data.yaml, images, labels) with its manifest; prints its s3:// URI')
    .requiredOption('--name <customer/task>', 'the dataset name, e.g. donghwa-entec/ppe')
    .requiredOption('--version <version>', 'the version, e.g. v3; an existing version is never overwritten')
    .action(async (folder: string, opts: { name: string; version: string }) => {
      const pushed = await withS3(settings, (s3) =>
        pushDataset(s3, settings.s3.bucket, {
          folder,
          name: opts.name,
          version: opts.version,
          onFile: (done, total) => {
            if (process.stderr.isTTY) process.stderr.write(`\r${done}/${total} files`);
          },
        }),
      ).catch((err: unknown) => {
        if (err instanceof DatasetPushError) throw new CliError(err.message, 2, { cause: err });
        throw err;
      });
      if (process.stderr.isTTY) process.stderr.write('\n');
      console.error(`pushed ${pushed.name} ${pushed.version}: ${pushed.files} files, ${megabytes(pushed.bytes)} MB, manifest sha256 ${pushed.sha256}`);
      console.log(pushed.uri);
    });

  data
    .command('list')
    .description('the pushed dataset versions: name, version, files, size, pushed at, URI')
    .option('--json', 'one JSON array, for scripts')
    .action(async (opts: { json?: boolean }) => {
      const versions = await withS3(settings, (s3) => listDatasets(s3, settings.s3.bucket));
      if (opts.json) {
        console.log(JSON.stringify(versions, null, 2));
        return;
      }
      if (versions.length === 0) {
        console.log(`no datasets in s3://${settings.s3.bucket}/datasets/ (gflow data push <folder> --name <customer>/<task> --version <v>)`);
        return;
      }
      const columns = [{ header: 'name' }, { header: 'version' }, { header: 'files', right: true }, { header: 'MB', right: true }, { header: 'pushed at' }, { header: 'uri' }];
      console.log(formatTable(columns, versions.map((v) => [v.name, v.version, String(v.files), megabytes(v.bytes), v.pushedAt, v.uri])));
    });
}
