import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { asTrackingActivity } from '../../activities/tracking/failures';
import { MlflowClient, MlflowResponseError } from '../../activities/tracking/mlflow-client';

/** A local HTTP server that answers every request with the next canned reply. */
let server: Server;
const replies: { status: number; body: string }[] = [];
let client: MlflowClient;

beforeAll(async () => {
  server = createServer((_req, res) => {
    const reply = replies.shift() ?? { status: 500, body: 'no reply queued' };
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new MlflowClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const reply = (status: number, body: unknown) => replies.push({ status, body: typeof body === 'string' ? body : JSON.stringify(body) });
const info = { run_id: 'abc', experiment_id: '1', status: 'RUNNING', artifact_uri: 'mlflow-artifacts:/1/abc/artifacts', lifecycle_stage: 'active', start_time: '1764000000000' };

describe('MLflow answers are checked at the boundary', () => {
  it('turns int64 strings into numbers', async () => {
    reply(200, { run: { info, data: { metrics: [{ key: 'det.mAP50', value: 0.5, timestamp: '1764000000001', step: '3' }] } } });
    const run = await client.getRun('abc');
    expect(run.info.start_time).toBe(1764000000000);
    expect(run.data.metrics).toEqual([{ key: 'det.mAP50', value: 0.5, timestamp: 1764000000001, step: 3 }]);
  });

  it('names the field of a wrong-shaped answer', async () => {
    reply(200, { run: { info: { ...info, run_id: 42 }, data: {} } });
    await expect(client.getRun('abc')).rejects.toThrow(/runs\/get: HTTP 200 UNEXPECTED_RESPONSE: unexpected answer: run\.info\.run_id: .*string/);
  });

  it('refuses a 200 that is not JSON (a proxy page) without retrying', async () => {
    reply(200, '<html>maintenance</html>');
    const err = await client.getRun('abc').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowResponseError);
    expect((err as MlflowResponseError).retryable).toBe(false);
    reply(200, '<html>maintenance</html>');
    const failure = await asTrackingActivity(() => client.getRun('abc')).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect((failure as ApplicationFailure).type).toBe('TrackingRejected');
    expect((failure as ApplicationFailure).nonRetryable).toBe(true);
  });

  it('reads a tolerated not-found as absent and keeps unknown fields', async () => {
    reply(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'no such model' });
    await expect(client.getRegisteredModel('x')).resolves.toBeUndefined();
    reply(200, { registered_model: { name: 'x', aliases: [{ alias: 'champion', version: '2' }], future_field: 1 } });
    await expect(client.getRegisteredModel('x')).resolves.toEqual({ name: 'x', aliases: [{ alias: 'champion', version: '2' }], future_field: 1 });
  });

  it('leaves 5xx to the retry policy', async () => {
    reply(503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' });
    const err = await client.getRun('abc').catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(MlflowResponseError);
    expect((err as MlflowResponseError).retryable).toBe(true);
  });
});
