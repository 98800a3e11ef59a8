import { mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { CheckpointUploader } from '../../activities/gpu/checkpoint-upload';
import { copyLiveFile } from '../../activities/storage/live-file-copy';
import type { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';

/**
 * Copying a file another process rewrites (a training's `last.pt`). `fs.copyFile` never returns
 * when the source shrinks while it copies (libuv's sendfile loop; it hung GPU jobs in CI and kept
 * the test process from exiting); `copyLiveFile` ends and says the copy is torn.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-live-copy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `fn` while another writer appends to `file` every millisecond. */
async function whileAppending<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const appending = setInterval(() => void writeFile(file, 'x', { flag: 'a' }), 1);
  try {
    return await fn();
  } finally {
    clearInterval(appending);
  }
}

test('a file nobody writes is copied whole, and said to be', async () => {
  const source = path.join(dir, 'stable.pt');
  await writeFile(source, Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251)));
  expect(await copyLiveFile(source, path.join(dir, 'stable.copy'))).toBe(true);
  expect(await readFile(path.join(dir, 'stable.copy'))).toEqual(await readFile(source));
});

test('a file that shrinks while it is copied: the copy ends, torn', async () => {
  let shrunkMidCopy = false;
  // the truncation has to land while the copy runs: a large (sparse) source, cut once the copy has bytes
  for (let attempt = 0; attempt < 5 && !shrunkMidCopy; attempt++) {
    const source = path.join(dir, `shrinking-${attempt}.pt`);
    const target = path.join(dir, `shrinking-${attempt}.copy`);
    const file = await open(source, 'w');
    await file.truncate(256 * 1024 * 1024);
    await file.close();
    const copied = copyLiveFile(source, target);
    let cut = false;
    const watcher = setInterval(() => {
      if (cut) return;
      void stat(target).then(async (s) => {
        if (s.size > 0 && !cut) {
          cut = true;
          await truncate(source, 1024 * 1024);
        }
      }, () => undefined);
    }, 1);
    const started = Date.now();
    const whole = await copied;
    clearInterval(watcher);
    expect(Date.now() - started).toBeLessThan(10_000);
    const copiedSize = (await stat(target)).size;
    if (cut && copiedSize < 256 * 1024 * 1024) {
      shrunkMidCopy = true;
      expect(whole).toBe(false);
    }
  }
  expect(shrunkMidCopy).toBe(true);
}, 60_000);

test('a file that grows or is rewritten while it is copied is torn too', async () => {
  const source = path.join(dir, 'growing.pt');
  await writeFile(source, Buffer.alloc(64 * 1024 * 1024, 7));
  expect(await whileAppending(source, () => copyLiveFile(source, path.join(dir, 'growing.copy')))).toBe(false);
});

test('a checkpoint the training rewrites while it is copied is not uploaded: reported, its copy removed, flush returns', async () => {
  const checkpoint = path.join(dir, 'last.pt');
  await writeFile(checkpoint, Buffer.alloc(64 * 1024 * 1024, 3));
  const send = jest.fn();
  const mlflow = { getRun: () => Promise.resolve({ info: { artifact_uri: 'mlflow-artifacts:/1/run-1/artifacts' } }) } as unknown as MlflowClient;
  const uploaded: number[] = [];
  const warnings: string[] = [];
  const uploader = new CheckpointUploader({ mlflow, s3: { send } as unknown as S3Client, store: { ...loadSettings().s3 } }, 'run-1', (epoch) => uploaded.push(epoch), (message) => warnings.push(message));
  await whileAppending(checkpoint, () => {
    uploader.offer(checkpoint, 8);
    return uploader.flush();
  });
  expect(send).not.toHaveBeenCalled();
  expect(uploaded).toEqual([]);
  expect(warnings).toEqual(['checkpoint of epoch 8 not uploaded: the training rewrote it while it was copied (the next one, if any, will be)']);
  expect((await readdir(dir)).filter((f) => f.startsWith('last.pt'))).toEqual(['last.pt']);
});
