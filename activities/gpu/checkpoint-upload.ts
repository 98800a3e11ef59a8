import { createReadStream } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CHECKPOINT_ARTIFACT } from '../../common/contract';
import { artifactKey } from '../storage/artifact-location';
import type { ModelSourceDeps } from './model-source';

/**
 * Copies each checkpoint a training reports into its run's S3 folder, so a retry on another host
 * (this one dead for good) resumes from it instead of epoch 0. At most one upload is in flight: a
 * checkpoint reported meanwhile waits, and a newer one replaces it (only the latest matters). The
 * file is copied aside the moment it is reported, since the executor rewrites it next epoch.
 * Failed uploads are reported and skipped: the next checkpoint tries again, the training goes on.
 */
export class CheckpointUploader {
  #pending: { snapshot: Promise<string>; epoch: number } | undefined;
  #running: Promise<void> | undefined;

  constructor(
    private readonly deps: ModelSourceDeps,
    private readonly runId: string,
    /** Called after each upload with the epoch now in S3 (the heartbeat carries it). */
    private readonly uploaded: (epoch: number) => void,
    private readonly warn: (message: string) => void,
  ) {}

  offer(localPath: string, epoch: number): void {
    const snapshotPath = `${localPath}.upload-${epoch}`;
    const superseded = this.#pending;
    this.#pending = { snapshot: copyFile(localPath, snapshotPath).then(() => snapshotPath), epoch };
    if (superseded) void superseded.snapshot.then(removeQuietly, () => undefined);
    this.#running ??= this.#drain();
  }

  /** Waits for the upload in flight and the one waiting, if any. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      let artifactUri: string | undefined;
      for (let next = this.#pending; next; next = this.#pending) {
        this.#pending = undefined;
        let snapshot: string | undefined;
        try {
          snapshot = await next.snapshot;
          artifactUri ??= (await this.deps.mlflow.getRun(this.runId)).info.artifact_uri;
          const { size } = await stat(snapshot);
          const key = artifactKey(this.deps.store, artifactUri, CHECKPOINT_ARTIFACT);
          await this.deps.s3.send(new PutObjectCommand({ Bucket: this.deps.store.bucket, Key: key, Body: createReadStream(snapshot), ContentLength: size }));
          this.uploaded(next.epoch);
        } catch (err) {
          this.warn(`checkpoint of epoch ${next.epoch} not uploaded (the next one will be): ${String(err)}`);
        } finally {
          if (snapshot) await removeQuietly(snapshot);
        }
      }
    } finally {
      this.#running = undefined;
    }
  }
}

async function removeQuietly(file: string): Promise<void> {
  await rm(file, { force: true });
}
