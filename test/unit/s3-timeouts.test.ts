import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { CheckpointUploader } from '../../activities/gpu/checkpoint-upload';
import { createS3Client, S3_TIMEOUTS } from '../../activities/storage/s3-client';
import type { MlflowClient } from '../../activities/tracking/mlflow-client';
import { loadSettings } from '../../common/settings';

/**
 * An object store that takes the connection and then never answers: a GPU job waiting on it
 * would never complete (its heartbeats go on). Every S3 request gives up after its idle timeout
 * instead, and a checkpoint upload is reported and skipped.
 */

const settings = loadSettings();
const held: Socket[] = [];
let silent: Server;
let endpoint: string;

beforeAll(async () => {
  silent = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

const quick = { connectMs: 1_000, idleMs: 300 };

it('bounds every request by default: connect and idle timeouts are set', () => {
  expect(S3_TIMEOUTS.connectMs).toBeGreaterThan(0);
  expect(S3_TIMEOUTS.idleMs).toBeGreaterThan(0);
});

it('a request to a store that never answers fails with a timeout, not a hang', async () => {
  const s3 = createS3Client({ ...settings.s3, endpoint }, quick);
  const started = Date.now();
  await expect(s3.send(new HeadBucketCommand({ Bucket: 'b' }))).rejects.toThrow(/timed out after 300 ms of inactivity/);
  expect(Date.now() - started).toBeLessThan(10_000);
  s3.destroy();
});

it('a checkpoint upload the store never answers is reported and skipped; flush returns and the copy is removed', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-s3-timeout-'));
  const checkpoint = path.join(dir, 'last.pt');
  await writeFile(checkpoint, Buffer.alloc(2 * 1024 * 1024, 7));
  const s3 = createS3Client({ ...settings.s3, endpoint }, quick);
  const mlflow = { getRun: () => Promise.resolve({ info: { artifact_uri: `mlflow-artifacts:/1/run-1/artifacts` } }) } as unknown as MlflowClient;
  const uploaded: number[] = [];
  const warnings: string[] = [];
  const uploader = new CheckpointUploader({ mlflow, s3, store: { ...settings.s3 } }, 'run-1', (epoch) => uploaded.push(epoch), (message) => warnings.push(message));

  uploader.offer(checkpoint, 3);
  await uploader.flush();

  expect(uploaded).toEqual([]);
  expect(warnings).toEqual([expect.stringMatching(/^checkpoint of epoch 3 not uploaded \(the next one will be\): .*timed out/)]);
  expect(await readdir(dir)).toEqual(['last.pt']);
  s3.destroy();
});
