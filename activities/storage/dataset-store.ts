import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { datasetUri, MANIFEST_FILE, manifestKey, type DatasetLocation } from '../../scenarios/dataset-uri';
import { isMissingObject, manifestBytes, parseManifest, sha256Hex, type DatasetManifest, type ManifestFile } from './dataset-manifest';

/** Where `gflow data push` puts datasets in the bucket: `datasets/<customer>/<task>/<version>/`. */
export const DATASETS_PREFIX = 'datasets';
/** The data .yaml a pushed folder must hold at its top. */
export const DATA_YAML = 'data.yaml';
/** Files uploaded (or hashed) at once: datasets are many small images. */
const PARALLEL = 8;

const NAME = /^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A push refused before anything was uploaded: a bad name or folder, or a version that exists. */
export class DatasetPushError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetPushError';
  }
}

export interface DatasetVersion {
  name: string;
  version: string;
  uri: string;
  sha256: string;
  files: number;
  bytes: number;
  pushedAt: string;
}

/** The location of a version: `s3://<bucket>/datasets/<name>/<version>/data.yaml`. */
export function versionLocation(bucket: string, name: string, version: string): DatasetLocation {
  if (!NAME.test(name)) throw new DatasetPushError(`--name: expected <customer>/<task> of lowercase letters, digits, '-' or '_', got ${JSON.stringify(name)}`);
  if (!VERSION.test(version)) throw new DatasetPushError(`--version: expected letters, digits, '.', '-' or '_' (v3, v1.2), got ${JSON.stringify(version)}`);
  return { bucket, folder: `${DATASETS_PREFIX}/${name}/${version}`, file: DATA_YAML };
}

/** Every regular file under `root` as a `/`-separated relative path; a link or other special file is refused by name. */
async function folderFiles(root: string): Promise<{ path: string; local: string; size: number }[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: { path: string; local: string; size: number }[] = [];
  for (const entry of entries) {
    const local = path.join(entry.parentPath, entry.name);
    const rel = path.relative(root, local).split(path.sep).join('/');
    if (entry.isDirectory()) continue;
    if (!entry.isFile()) throw new DatasetPushError(`${local}: not a regular file (a link?): push copies files only`);
    files.push({ path: rel, local, size: (await lstat(local)).size });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += PARALLEL) results.push(...(await Promise.all(items.slice(i, i + PARALLEL).map(work))));
  return results;
}

/**
 * Uploads a local dataset folder as `<name>/<version>` with its manifest, which goes last: a
 * version without one is an interrupted push, and only a version with one exists. A version that
 * exists is never overwritten (runs record its digest). Returns what was pushed.
 */
export async function pushDataset(
  s3: S3Client,
  bucket: string,
  args: { folder: string; name: string; version: string; onFile?: (done: number, total: number) => void },
): Promise<DatasetVersion> {
  const location = versionLocation(bucket, args.name, args.version);
  const root = path.resolve(args.folder);
  const top = await lstat(root).catch(() => undefined);
  if (!top?.isDirectory()) throw new DatasetPushError(`${args.folder}: not a folder`);
  const files = await folderFiles(root);
  if (!files.some((f) => f.path === DATA_YAML)) throw new DatasetPushError(`${args.folder}: no ${DATA_YAML} at its top (the YOLO dataset description)`);
  if (files.some((f) => f.path === MANIFEST_FILE)) throw new DatasetPushError(`${args.folder}: holds a ${MANIFEST_FILE} of its own; that name is the manifest's`);
  const existing = await describeVersion(s3, location);
  if (existing) throw new DatasetPushError(`${datasetUri(location)} exists (pushed ${existing.pushedAt}, sha256 ${existing.sha256}): a version is immutable; push a new --version`);

  let done = 0;
  const uploaded = await inBatches(files, async (file): Promise<ManifestFile> => {
    const hash = createHash('sha256');
    let size = 0;
    // hashed as the SDK reads it (a 'data' listener would start the stream before the SDK's own checksum)
    const body = createReadStream(file.local).pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${location.folder}/${file.path}`, Body: body, ContentLength: file.size }));
    if (size !== file.size) throw new DatasetPushError(`${file.local}: changed while it was pushed (${file.size} → ${size} bytes)`);
    args.onFile?.(++done, files.length);
    return { path: file.path, size, sha256: hash.digest('hex') };
  });
  const manifest: DatasetManifest = { format: 1, name: args.name, version: args.version, pushed_at: new Date().toISOString(), data_yaml: DATA_YAML, files: uploaded };
  const bytes = manifestBytes(manifest);
  // only if absent: of two pushes of one version at once, the one whose manifest lands second is refused
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: manifestKey(location), Body: bytes, ContentLength: bytes.length, ContentType: 'application/json', IfNoneMatch: '*' })).catch((err: unknown) => {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) throw new DatasetPushError(`${datasetUri(location)} was pushed by someone else meanwhile: a version is immutable; push a new --version`);
    throw err;
  });
  return summary(location, manifest, sha256Hex(bytes));
}

/** The version at `location` if its manifest is there. */
export async function describeVersion(s3: S3Client, location: DatasetLocation): Promise<DatasetVersion | undefined> {
  const head = await s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: manifestKey(location) })).catch((err: unknown) => {
    if (isMissingObject(err)) return undefined;
    throw err;
  });
  if (!head) return undefined;
  const object = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: manifestKey(location) }));
  const bytes = Buffer.from(await object.Body!.transformToByteArray());
  const { manifest, sha256 } = parseManifest(bytes, `s3://${location.bucket}/${manifestKey(location)}`);
  return summary({ ...location, file: manifest.data_yaml }, manifest, sha256);
}

/** Every pushed version in the bucket (those with a manifest), by name and push time. */
export async function listDatasets(s3: S3Client, bucket: string): Promise<DatasetVersion[]> {
  const folders: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${DATASETS_PREFIX}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) if (o.Key?.endsWith(`/${MANIFEST_FILE}`)) folders.push(o.Key.slice(0, -MANIFEST_FILE.length - 1));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  const versions = await inBatches(folders, (folder) => describeVersion(s3, { bucket, folder, file: DATA_YAML }));
  return versions.filter((v): v is DatasetVersion => v !== undefined).sort((a, b) => a.name.localeCompare(b.name) || a.pushedAt.localeCompare(b.pushedAt));
}

function summary(location: DatasetLocation, manifest: DatasetManifest, sha256: string): DatasetVersion {
  return {
    name: manifest.name,
    version: manifest.version,
    uri: datasetUri(location),
    sha256,
    files: manifest.files.length,
    bytes: manifest.files.reduce((sum, f) => sum + f.size, 0),
    pushedAt: manifest.pushed_at,
  };
}
