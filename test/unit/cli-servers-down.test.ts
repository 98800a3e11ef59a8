import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { createS3Client } from '../../activities/storage/s3-client';
import { loadSettings } from '../../common/settings';
import { CliError } from '../../cli/cli-error';
import { serverError } from '../../cli/server-errors';
import { gflow } from '../support/cli';
import { REPO } from '../support/harness';

/**
 * Issue 11 item 6: every command that cannot reach a server says which one and how to start it, in
 * one line, exit 1, never a Node stack trace. The servers here are loopback ports that nothing
 * listens on (taken and released), and a plain HTTP server that is not MLflow.
 */

jest.setTimeout(180_000);

const settings = loadSettings();

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let down: Record<string, string>;
let notMlflow: Server;
let notMlflowUrl: string;

beforeAll(async () => {
  const [temporal, mlflow, s3] = [await closedPort(), await closedPort(), await closedPort()];
  down = { TEMPORAL_ADDRESS: `127.0.0.1:${temporal}`, MLFLOW_TRACKING_URI: `http://127.0.0.1:${mlflow}`, GF_S3_ENDPOINT: `http://127.0.0.1:${s3}` };
  notMlflow = createServer((_, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<!DOCTYPE html>\n<html><body>\n<h1>Not Found</h1>\n</body></html>\n'));
  await new Promise<void>((resolve) => notMlflow.listen(0, '127.0.0.1', resolve));
  notMlflowUrl = `http://127.0.0.1:${(notMlflow.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => notMlflow?.close(resolve)));

/** One line on stderr starting `gflow:`, exit 1, no stack frame. */
function expectOneLine(run: { code: number; stdout: string; stderr: string }, server: RegExp) {
  const lines = run.stderr.trimEnd().split('\n');
  expect({ code: run.code, lines }).toEqual({ code: 1, lines: [expect.stringMatching(/^gflow: /)] });
  expect(lines[0]).toMatch(server);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

describe('gflow commands with the servers down: one line naming the server and how to start it', () => {
  const mlflowDown = /MLflow .*unreachable .*gflow dev up/;
  const temporalDown = /Temporal.* 127\.0\.0\.1:\d+.*gflow dev up/;

  it.each<[string[], RegExp]>([
    [['list', 'models'], mlflowDown],
    [['metrics', 'summary'], mlflowDown],
    [['alerts', 'list'], mlflowDown],
    [['history', 'some.model'], mlflowDown],
    [['optimize', 'check', '--policy', path.join(REPO, 'optimizer/examples/optimizer.yaml')], mlflowDown],
    [['status', 'gf/single/x'], temporalDown],
    [['optimize', 'list'], temporalDown],
    [['report', 'utilisation', 'gf/sweep/x'], temporalDown],
    [['cancel', 'gf/single/x'], temporalDown],
    [['run', path.join(REPO, 'scenarios/examples/ppe-welding-baseline.yaml'), '--no-check-files'], temporalDown],
  ])('gflow %p', async (args, server) => {
    expectOneLine(await gflow(settings, args, 60_000, down), server);
  });

  it('an MLflow URL that is not MLflow (an HTML 404) is one line too', async () => {
    const run = await gflow(settings, ['list', 'models'], 60_000, { ...down, MLFLOW_TRACKING_URI: notMlflowUrl });
    expectOneLine(run, /^gflow: MLflow registered-models\/search: HTTP 404: Not Found; is MLFLOW_TRACKING_URI an MLflow server\?$/);
  });
});

describe('serverError on the SDKs’ own errors', () => {
  it('an S3 that cannot be reached (the AWS SDK’s network error) is named with how to start it', async () => {
    const s3 = createS3Client({ ...settings.s3, endpoint: down.GF_S3_ENDPOINT });
    s3.config.maxAttempts = () => Promise.resolve(1);
    const err = await s3.send(new HeadBucketCommand({ Bucket: settings.s3.bucket })).catch((e: unknown) => e);
    const message = serverError(err);
    expect(message).toBeInstanceOf(CliError);
    expect(message?.message).toMatch(/^S3 unreachable \(.*connect ECONNREFUSED 127\.0\.0\.1:\d+\); is the stack up\? \(gflow dev up, or set GF_S3_ENDPOINT\)$/);
  });

  it('a Temporal that stops answering after the command connected (gRPC UNAVAILABLE or DEADLINE_EXCEEDED) is named with how to start it', async () => {
    const connection = Connection.lazy({ address: down.TEMPORAL_ADDRESS, connectTimeout: '2s' });
    const client = new Client({ connection });
    const err = await connection.withDeadline(Date.now() + 3000, () => client.workflow.getHandle('gf/single/x').describe()).catch((e: unknown) => e);
    await connection.close();
    expect(serverError(err)?.message).toMatch(/^Temporal unreachable \(.+\); is the stack up\? \(gflow dev up, or set TEMPORAL_ADDRESS\)$/);
  });

  it('leaves other errors alone', () => {
    expect(serverError(new Error('boom'))).toBeUndefined();
  });
});
