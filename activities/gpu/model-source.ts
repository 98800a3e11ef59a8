import { createWriteStream } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { parseModelReference } from '../../scenarios/model-reference';
import { artifactKey, type ArtifactStore } from '../storage/artifact-location';
import type { MlflowClient } from '../tracking/mlflow-client';

export interface ModelSourceDeps {
  mlflow: MlflowClient;
  s3: S3Client;
  store: ArtifactStore;
}

/** A model reference that cannot be resolved: unknown run, version or alias, or no such file. */
export class ModelReferenceError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ModelReferenceError';
  }
}

/**
 * The artifact URI a `runs:/<id>/<path>` or `models:/<name>@<alias>|/<version>` reference
 * points at; undefined for a local path on this host. The schema refuses bad references already;
 * this checks again (scenarios/model-reference.ts), because a workflow started from the plain
 * Temporal CLI or a registered version's source could still carry `..` into an S3 key.
 */
export async function resolveModelUri(deps: ModelSourceDeps, ref: string): Promise<string | undefined> {
  const parsed = parseModelReference(ref);
  if ('error' in parsed) throw new ModelReferenceError(`model reference ${JSON.stringify(ref)}: ${parsed.error}`);
  if (parsed.kind === 'run') {
    const found = await deps.mlflow.getRun(parsed.runId).catch((err: unknown) => {
      throw new ModelReferenceError(`${ref}: no MLflow run ${parsed.runId}`, { cause: err });
    });
    return `${found.info.artifact_uri}/${parsed.artifactPath}`;
  }
  if (parsed.kind === 'registered') {
    const { name, alias, version } = parsed;
    const found = alias ? await deps.mlflow.getModelVersionByAlias(name, alias) : await deps.mlflow.getModelVersion(name, version!);
    if (!found) throw new ModelReferenceError(`${ref}: registered model ${name} has no ${alias ? `alias ${alias}` : `version ${version}`}`);
    const uri = found.source.startsWith('runs:/') ? await resolveModelUri(deps, found.source) : found.source;
    if (uri?.split('/').some((segment) => segment === '.' || segment === '..')) throw new ModelReferenceError(`${ref}: its source ${found.source} has a '.' or '..' segment`);
    return uri;
  }
  return undefined;
}

/**
 * A local copy of the referenced model inside `destDir` (a file, or a folder for OpenVINO
 * exports); a local path is returned as is once it is known to exist.
 */
export async function fetchModel(deps: ModelSourceDeps, ref: string, destDir: string): Promise<string> {
  const uri = await resolveModelUri(deps, ref);
  if (uri === undefined) {
    await access(ref).catch((err: unknown) => {
      throw new ModelReferenceError(`model file not found on this host: ${ref}`, { cause: err });
    });
    return ref;
  }
  const key = artifactKey(deps.store, path.posix.dirname(uri), path.posix.basename(uri));
  const listed = await deps.s3.send(new ListObjectsV2Command({ Bucket: deps.store.bucket, Prefix: key }));
  const objects = (listed.Contents ?? []).map((o) => o.Key!).filter((k) => k === key || k.startsWith(`${key}/`));
  if (objects.length === 0) throw new ModelReferenceError(`${ref}: nothing stored at ${uri}`);
  const local = path.join(destDir, path.posix.basename(key));
  for (const objectKey of objects) {
    const target = path.join(local, ...objectKey.slice(key.length).split('/').filter(Boolean));
    await mkdir(path.dirname(target), { recursive: true });
    const object = await deps.s3.send(new GetObjectCommand({ Bucket: deps.store.bucket, Key: objectKey }));
    await pipeline(object.Body as Readable, createWriteStream(target));
  }
  return local;
}
