/**
 * Datasets in the object store: `dataset.path` may be `s3://<bucket>/<folder>/<data>.yaml`, the
 * folder holding the images, labels and the manifest `gflow data push` wrote. One grammar, shared
 * by the schema (refused before anything starts) and the GPU host's dataset cache (a second guard
 * before a URI becomes S3 keys and local folders). Pure: no Node built-ins.
 */

/** The manifest beside a pushed dataset's files: every file's path, size and sha256. */
export const MANIFEST_FILE = 'gflow-manifest.json';

export interface DatasetLocation {
  bucket: string;
  /** The key prefix of the dataset's folder, without a trailing `/` (`datasets/acme/ppe/v3`). */
  folder: string;
  /** The data .yaml's name inside the folder (`data.yaml`). */
  file: string;
}

/** S3's bucket naming rule (lowercase letters, digits, `.` and `-`, 3–63 characters). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const DATASET_URI_FORM = 's3://<bucket>/<folder>/<data>.yaml';

export function isObjectStoreDataset(p: string): boolean {
  return p.startsWith('s3://');
}

/** Parses an `s3://` dataset URI, or says why it is refused: no empty, `.` or `..` key segments, at least one folder. */
export function parseDatasetUri(uri: string): DatasetLocation | { error: string } {
  const refused = (why: string) => ({ error: `expected ${DATASET_URI_FORM} (${why}), got ${JSON.stringify(uri)}` });
  if (!isObjectStoreDataset(uri)) return refused('an s3:// URI');
  const [bucket, ...segments] = uri.slice('s3://'.length).split('/');
  if (!BUCKET.test(bucket)) return refused('a bucket of 3-63 lowercase letters, digits, . and -');
  if (segments.length < 2) return refused('the data .yaml inside a folder that holds the images and labels');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || /[\0\n\\]/.test(s))) return refused('no empty, . or .. segments');
  const file = segments.pop()!;
  if (!/\.ya?ml$/.test(file)) return refused('a .yaml file');
  return { bucket, folder: segments.join('/'), file };
}

export function datasetUri(location: DatasetLocation): string {
  return `s3://${location.bucket}/${location.folder}/${location.file}`;
}

/** The key of the folder's manifest. */
export function manifestKey(location: Pick<DatasetLocation, 'folder'>): string {
  return `${location.folder}/${MANIFEST_FILE}`;
}
