import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { datasetUri, manifestKey, type DatasetLocation } from '../../scenarios/dataset-uri';

/**
 * A pushed dataset version's manifest (`gflow-manifest.json` beside its files): every file's path
 * relative to the folder, size and sha256. The sha256 of the manifest's own bytes is the dataset's
 * digest (`data.sha256` on runs): one hash that changes when any file does.
 */
export const DatasetManifestSchema = z.strictObject({
  format: z.literal(1),
  /** `<customer>/<task>` as pushed. */
  name: z.string().min(1),
  version: z.string().min(1),
  pushed_at: z.string(),
  /** The data .yaml's path inside the folder. */
  data_yaml: z.string(),
  files: z.array(z.strictObject({ path: z.string(), size: z.int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type DatasetManifest = z.infer<typeof DatasetManifestSchema>;
export type ManifestFile = DatasetManifest['files'][number];

/** A dataset that cannot be used as stored: no manifest, a bad manifest, a file missing or not matching it. */
export class InvalidDatasetError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidDatasetError';
  }
}

export interface StoredManifest {
  manifest: DatasetManifest;
  /** sha256 of the manifest's bytes. */
  sha256: string;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The manifest's bytes as pushed: stable key order, so its hash depends on the dataset only. */
export function manifestBytes(manifest: DatasetManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8');
}

/** A path a manifest may name: relative, `/`-separated, no empty, `.` or `..` segment (it becomes a local file). */
export function isSafeRelativePath(p: string): boolean {
  const segments = p.split('/');
  return p !== '' && !p.startsWith('/') && !/[\0\\]/.test(p) && segments.every((s) => s !== '' && s !== '.' && s !== '..');
}

/** Parses and checks a manifest's bytes; `where` names it in errors (its URI). */
export function parseManifest(bytes: Buffer, where: string): StoredManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new InvalidDatasetError(`${where}: not JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = DatasetManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidDatasetError(`${where}: ${issue.path.join('.') || '(manifest)'}: ${issue.message}`);
  }
  const manifest = parsed.data;
  const unsafe = manifest.files.find((f) => !isSafeRelativePath(f.path));
  if (unsafe) throw new InvalidDatasetError(`${where}: file path ${JSON.stringify(unsafe.path)} leaves the dataset folder`);
  if (!manifest.files.some((f) => f.path === manifest.data_yaml)) throw new InvalidDatasetError(`${where}: its data .yaml ${manifest.data_yaml} is not among its files`);
  return { manifest, sha256: sha256Hex(bytes) };
}

/** The manifest of a pushed dataset; a missing one is an InvalidDatasetError saying how to push it. */
export async function readManifest(s3: S3Client, location: DatasetLocation): Promise<StoredManifest> {
  const where = `s3://${location.bucket}/${manifestKey(location)}`;
  const object = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: manifestKey(location) })).catch((err: unknown) => {
    if (isMissingObject(err)) throw new InvalidDatasetError(`${datasetUri(location)}: no manifest at ${where}: push the dataset with gflow data push`, { cause: err });
    throw err;
  });
  const stored = parseManifest(Buffer.from(await object.Body!.transformToByteArray()), where);
  if (stored.manifest.data_yaml !== location.file) {
    throw new InvalidDatasetError(`${datasetUri(location)}: the manifest's data .yaml is ${stored.manifest.data_yaml}, not ${location.file}`);
  }
  return stored;
}

/** S3's "no such key" (GET) or 404 (HEAD). */
export function isMissingObject(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
