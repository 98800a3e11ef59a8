/** Where a run's artifacts live in the bucket, as the MLflow server (`--artifacts-destination`) maps them. */
export interface ArtifactStore {
  bucket: string;
  /** Key prefix of `--artifacts-destination s3://{bucket}/{prefix}`. */
  artifactsPrefix: string;
}

export class ArtifactPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactPathError';
  }
}

/**
 * Maps a run's artifact URI plus a relative artifact path to the S3 object key. Accepts the
 * proxied `mlflow-artifacts:/…` form and direct `s3://bucket/…` URIs; refuses paths that
 * would leave the run's folder.
 */
export function artifactKey(store: ArtifactStore, artifactUri: string, artifactPath: string): string {
  const segments = artifactPath.split('/');
  if (artifactPath === '' || artifactPath.startsWith('/') || segments.some((s) => s === '..' || s === '.' || s === '')) {
    throw new ArtifactPathError(`artifact path must be relative and stay inside the run: ${JSON.stringify(artifactPath)}`);
  }
  return `${runPrefix(store, artifactUri)}/${artifactPath}`;
}

function runPrefix(store: ArtifactStore, artifactUri: string): string {
  const proxied = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.+?)\/*$/.exec(artifactUri);
  if (proxied) return `${store.artifactsPrefix}/${proxied[1]}`;
  const direct = /^s3:\/\/([^/]+)\/(.+?)\/*$/.exec(artifactUri);
  if (direct && direct[1] === store.bucket) return direct[2];
  throw new ArtifactPathError(`artifact URI ${artifactUri} is not in bucket ${store.bucket}`);
}
