import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { createRegistryActivities } from '../../activities/registry/activities';
import { createTrackingActivities } from '../../activities/tracking/activities';
import { mlflowClientFor } from '../../activities/tracking/mlflow-client';
import { CONTROL_QUEUE } from '../../common/contract';
import { loadSettings, type Settings } from '../../common/settings';
import { isAlive, logTail, startDetached, stopProcess, type ProcessRecord } from '../../stack/managed-process';
import { mlflowServer } from '../../stack/servers';
import { createControlWorker } from '../../workers/control';
import type { registryMove } from '../../workflows/registry-move';
import { gflow } from '../support/cli';
import { connectStack, withWorkers, workflowBundle, type Stack } from '../support/harness';
import { freePort } from '../workflow-logic/local-temporal';

/**
 * An MLflow server with authentication (`mlflow server --app-name basic-auth`, its own user
 * store), reached with MLflow's own client variables: with credentials everything the product
 * does works; without them, or with a wrong password, every path fails at once with a message
 * that names authentication (TrackingRejected in activities, a plain line in the CLI) and never
 * shows the password.
 */

jest.setTimeout(240_000);

const PASSWORD = 'gf-Auth-7f3k2-secret';
let stack: Stack;
let dir: string;
let server: ProcessRecord;
let url: string;

/** Settings pointed at the auth server, with the given MLflow client variables. */
const authSettings = (vars: Record<string, string>): Settings => loadSettings({ ...process.env, MLFLOW_TRACKING_URI: url, MLFLOW_TRACKING_USERNAME: undefined, MLFLOW_TRACKING_PASSWORD: undefined, MLFLOW_TRACKING_TOKEN: undefined, ...vars });
const ADMIN = { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: PASSWORD };

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-mlflow-auth-'));
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const authConfig = path.join(dir, 'basic_auth.ini');
  await writeFile(authConfig, `[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///${path.join(dir, 'auth.db')}\nadmin_username = admin\nauthorization_function = mlflow.server.auth:authenticate_request_basic_auth\n`);
  const spec = mlflowServer({ ...stack.settings, stateDir: dir, mlflow: { ...stack.settings.mlflow, port, url } });
  await spec.prepare?.();
  server = await startDetached({
    name: 'mlflow-auth',
    command: spec.command,
    args: [...spec.args, '--app-name', 'basic-auth'],
    env: { ...spec.env, MLFLOW_AUTH_CONFIG_PATH: authConfig, MLFLOW_AUTH_ADMIN_PASSWORD: PASSWORD, MLFLOW_FLASK_SERVER_SECRET_KEY: 'gf-test-csrf-key' },
    cwd: dir,
    stateDir: dir,
  });
  const deadline = Date.now() + spec.startTimeoutMs;
  while (!(await spec.ready(server.pid))) {
    // a server that exited (bad configuration) will not become ready: say why at once
    if (Date.now() > deadline || !isAlive(server.pid)) throw new Error(`MLflow with basic auth did not start:\n${await logTail(server.logFile)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
});

afterAll(async () => {
  if (server) await stopProcess(dir, server, 5000);
  if (dir) await rm(dir, { recursive: true, force: true });
  await stack?.close();
});

it('with MLFLOW_TRACKING_USERNAME/PASSWORD every tracking and registry call works; the settings never show the password', async () => {
  const settings = authSettings(ADMIN);
  expect(JSON.stringify(settings)).not.toContain(PASSWORD);
  expect(inspect(settings, { depth: 10 })).not.toContain(PASSWORD);
  const mlflow = mlflowClientFor(settings);
  const tracking = createTrackingActivities({ mlflow });
  const experimentId = await tracking.ensureExperiment({ name: 'auth-co/ci-lab/bench' });
  const run = await tracking.createRun({ experimentId, runName: 'authed', runKey: 'auth-1', tags: { 'site.customer': 'auth-co' }, params: { 'train.epochs': '1' } });
  await tracking.logBatch({ runId: run.runId, metrics: { 'det.mAP50': 0.5 } });
  const model = await tracking.registerModel({ name: 'auth-co.ci-lab.bench.ppe', runId: run.runId, source: `${run.artifactUri}/weights/best.pt`, alias: 'candidate' });
  await tracking.endRun({ runId: run.runId, status: 'FINISHED' });
  expect((await mlflow.getRun(run.runId)).data.metrics?.map((m) => [m.key, m.value])).toEqual([['det.mAP50', 0.5]]);
  expect(await createRegistryActivities({ mlflow }).readAliases({ model: model.name })).toEqual({ aliases: { candidate: '1' }, versions: ['1'] });
});

it('gflow reads the credentials from the environment: with them `list models` works, without them one line names authentication', async () => {
  const run = (vars: Record<string, string>) => gflow({ ...stack.settings, mlflow: { ...stack.settings.mlflow, url } }, ['list', 'models'], 60_000, vars);
  const ok = await run(ADMIN);
  expect([ok.code, ok.stdout]).toEqual([0, expect.stringContaining('auth-co.ci-lab.bench.ppe')]);
  const anonymous = await run({});
  expect(anonymous.code).toBe(1);
  expect(anonymous.stderr.trim()).toMatch(/^gflow: MLflow registered-models\/search: HTTP 401.*authentication required: this MLflow server needs credentials; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN/);
  expect(anonymous.stderr).not.toMatch(/\n\s+at /);
  const wrong = await run({ MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: `${PASSWORD}-wrong` });
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/authentication failed: the server refused the credentials/);
  expect(wrong.stdout + wrong.stderr).not.toContain(PASSWORD);
});

it('without credentials an activity fails TrackingRejected (not retryable) naming authentication, and a workflow fails at once instead of retrying', async () => {
  const anonymous = authSettings({});
  const tracking = createTrackingActivities({ mlflow: mlflowClientFor(anonymous) });
  const err = await tracking.ensureExperiment({ name: 'auth-co/ci-lab/anon' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect(err).toMatchObject({ type: 'TrackingRejected', nonRetryable: true, message: expect.stringContaining('authentication required') });

  // the control worker of an operator who forgot the credentials: a registry move fails on its first attempt
  const worker = await createControlWorker({ settings: anonymous, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
  const started = Date.now();
  const failed = await withWorkers([worker], () =>
    stack.client.workflow.execute<typeof registryMove>('registryMove', { taskQueue: CONTROL_QUEUE, workflowId: `auth-move-${Date.now()}`, args: [{ model: 'auth-co.ci-lab.bench.ppe', op: 'promote' }] }).catch((e: unknown) => e),
  );
  expect(failed).toBeInstanceOf(WorkflowFailedError);
  const cause = (failed as WorkflowFailedError).cause?.cause;
  expect(cause).toMatchObject({ type: 'TrackingRejected', message: expect.stringContaining('authentication required') });
  expect(Date.now() - started).toBeLessThan(20_000);
});
