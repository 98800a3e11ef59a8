import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CHECKPOINT_ARTIFACT } from '../../common/contract';
import { artifactKey } from '../storage/artifact-location';
import { copyLiveFile } from '../storage/live-file-copy';
import type { ModelSourceDeps } from './model-source';

/**
 * Copies each checkpoint a training reports into its run's S3 folder, so a retry on another host
 * (this one dead for good) resumes from it instead of epoch 0. At most one upload is in flight: a
 * checkpoint reported meanwhile waits, and a newer one replaces it (only the latest matters). The
 * file is copied aside the moment it is reported, since the executor rewrites it next epoch; a
 * copy the executor rewrote while it was taken (a torn file) is dropped, as are failed uploads:
 * both are reported and skipped, the next checkpoint tries again, the training goes on.
 */
export class CheckpointUploader {
  /** `snapshot`: the copy's path, or undefined when the file changed while it was copied (the copy is removed). */
  #pending: { snapshot: Promise<string | undefined>; epoch: number } | undefined;
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
    const snapshot = copyLiveFile(localPath, snapshotPath).then(async (whole) => {
      if (whole) return snapshotPath;
      await removeQuietly(snapshotPath);
      return undefined;
    });
    this.#pending = { snapshot, epoch };
    if (superseded) void superseded.snapshot.then((file) => (file ? removeQuietly(file) : undefined), () => undefined);
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
          if (!snapshot) {
            this.warn(`checkpoint of epoch ${next.epoch} not uploaded: the training rewrote it while it was copied (the next one, if any, will be)`);
            continue;
          }
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
