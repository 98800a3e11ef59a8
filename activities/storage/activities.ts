import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'csv-stringify/sync';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { ArtifactPathError, artifactKey, type ArtifactStore } from './artifact-location';

export interface StorageDeps extends ArtifactStore {
  s3: S3Client;
  /** Local files may only be uploaded from inside these folders (the GPU work folder). */
  allowedRoots: string[];
}

export interface ArtifactFile {
  localPath: string;
  /** Path inside the run's artifacts, e.g. `weights/best.pt`. */
  artifactPath: string;
}

/** S3 uploads into a run's artifact folder; overwriting the same key makes every call idempotent. */
export function createStorageActivities(deps: StorageDeps) {
  const put = async (key: string, body: Buffer | NodeJS.ReadableStream, contentLength: number) => {
    await deps.s3.send(new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: body as Buffer, ContentLength: contentLength }));
  };
  const keyFor = (artifactUri: string, artifactPath: string) => asStorageFailure(() => artifactKey(deps, artifactUri, artifactPath));

  return {
    async uploadArtifacts(input: { artifactUri: string; files: ArtifactFile[] }): Promise<string[]> {
      const keys: string[] = [];
      for (const file of input.files) {
        const key = keyFor(input.artifactUri, file.artifactPath);
        const local = await insideRoots(file.localPath, deps.allowedRoots);
        const { size } = await stat(local);
        await put(key, createReadStream(local), size);
        keys.push(key);
      }
      return keys;
    },

    async uploadText(input: { artifactUri: string; artifactPath: string; content: string }): Promise<string> {
      const key = keyFor(input.artifactUri, input.artifactPath);
      const body = Buffer.from(input.content, 'utf8');
      await put(key, body, body.length);
      return key;
    },

    /**
     * A table as a CSV artifact (summary of a pipeline, results of a sweep); columns from the first
     * row. Booleans are written as `true`/`false` (csv-stringify's default writes false as an empty cell).
     */
    async uploadCsv(input: { artifactUri: string; artifactPath: string; rows: Record<string, string | number | boolean | null>[] }): Promise<string> {
      const key = keyFor(input.artifactUri, input.artifactPath);
      const body = Buffer.from(stringify(input.rows, { header: true, cast: { boolean: (value) => String(value) } }), 'utf8');
      await put(key, body, body.length);
      return key;
    },
  };
}

async function insideRoots(file: string, roots: string[]): Promise<string> {
  const real = await realpath(file).catch((err: NodeJS.ErrnoException) => {
    throw ApplicationFailure.create({ message: `artifact file missing: ${file} (${err.code})`, type: FailureType.StorageRejected, nonRetryable: true });
  });
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => undefined);
    if (realRoot && (real === realRoot || real.startsWith(realRoot + path.sep))) return real;
  }
  throw ApplicationFailure.create({ message: `refusing to upload ${file}: outside ${roots.join(', ')}`, type: FailureType.StorageRejected, nonRetryable: true });
}

function asStorageFailure<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof ArtifactPathError) {
      throw ApplicationFailure.create({ message: err.message, type: FailureType.StorageRejected, nonRetryable: true, cause: err });
    }
    throw err;
  }
}
