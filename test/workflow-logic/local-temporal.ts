import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadSettings } from '../../common/settings';
import { logTail, startDetached, stopProcess } from '../../stack/managed-process';
import { temporalServer } from '../../stack/servers';
import { terminateRunning } from './mocks';

/**
 * A Temporal dev server of one test file's own, on free ports, for workflow tests with mocked
 * activities: no pre-started stack. `TestWorkflowEnvironment.createTimeSkipping()` would
 * download its test server (offline here), and `createLocal()` waits only ~5 s for a server it
 * spawns; so the venv's `temporal` binary is started with the project's own arguments
 * (stack/servers.ts: search attributes, no version check) and polled until healthy.
 */
export interface LocalTemporal {
  env: TestWorkflowEnvironment;
  close(): Promise<void>;
}

/** A port nothing listens on now (the OS picks it), for a server of one test file. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startLocalTemporal(): Promise<LocalTemporal> {
  // core warns about attempts that end after their timeout: expected here (a silent job is one of the cases)
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' } } } });
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-logic-'));
  const settings = loadSettings({
    ...process.env,
    GF_STATE_DIR: stateDir,
    GF_HOST: '127.0.0.1',
    GF_TEMPORAL_PORT: String(await freePort()),
    GF_TEMPORAL_UI_PORT: String(await freePort()),
    TEMPORAL_ADDRESS: undefined,
    GF_TEMPORAL_UI_URL: undefined,
  });
  const spec = temporalServer(settings);
  await spec.prepare?.();
  const record = await startDetached({ name: spec.name, command: spec.command, args: spec.args, env: spec.env, cwd: stateDir, stateDir });
  const stop = async () => {
    await stopProcess(stateDir, record, 5000);
    await rm(stateDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + spec.startTimeoutMs;
  while (!(await spec.ready(record.pid))) {
    if (Date.now() > deadline) {
      const tail = await logTail(record.logFile);
      await stop();
      throw new Error(`${spec.title} (${spec.command}) did not become ready on ${settings.temporal.address} within ${spec.startTimeoutMs} ms:\n${tail}`);
    }
    await sleep(250);
  }
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: settings.temporal.address, namespace: settings.temporal.namespace });
  return {
    env,
    async close() {
      await env.teardown();
      await stop();
    },
  };
}

/**
 * Gives this test file a local Temporal server for all its tests: started before the first,
 * running workflows terminated after each, closed after the last. Read `env` inside tests only.
 */
export function useLocalTemporal(): { readonly env: TestWorkflowEnvironment } {
  let temporal: LocalTemporal | undefined;
  const started = {
    get env() {
      if (!temporal) throw new Error('useLocalTemporal(): the local Temporal server is not started (read it inside a test)');
      return temporal.env;
    },
  };
  beforeAll(async () => {
    temporal = await startLocalTemporal();
  });
  afterEach(async () => {
    await terminateRunning(started.env.client);
  });
  afterAll(async () => {
    await temporal?.close();
  });
  return started;
}
