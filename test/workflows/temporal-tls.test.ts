import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { NativeConnection } from '@temporalio/worker';
import { CliError } from '../../cli/cli-error';
import { startScenario } from '../../cli/start-run';
import { loadSettings, type Settings } from '../../common/settings';
import { connectTemporal, TemporalUnreachable } from '../../common/temporal-unreachable';
import { workflowId } from '../../scenarios/naming';
import { gflow, gflowInProcess } from '../support/cli';
import { connectStack, eventually, trainScenario, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { makeTestCertificates, startTlsProxy, type TestCertificates, type TlsProxy } from '../support/tls-proxy';

/**
 * Issue 11 item 4: Temporal reached over TLS as the `temporal` CLI would (TEMPORAL_TLS_*, a
 * temporal.toml profile). The dev server has no TLS flags, so a TLS-terminating proxy on loopback
 * with a CA made here stands in front of the test stack's Temporal.
 */

jest.setTimeout(120_000);

const NO_DATA = '/nonexistent/data.yaml';
const PROFILE_NAMESPACE = 'gf-tls-profile';

let stack: Stack;
let dir: string;
let certs: TestCertificates;
let proxy: TlsProxy;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gf-tls-'));
  certs = await makeTestCertificates(dir);
  proxy = await startTlsProxy(stack.settings.temporal.address, certs);
});

afterAll(async () => {
  await proxy?.close();
  await stack?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Settings as a process started with these variables (and no other Temporal address) reads them. */
function settingsWith(vars: Record<string, string>): Settings {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.TEMPORAL_ADDRESS;
  return loadSettings({ ...env, ...vars });
}

/** Clients and workers of this process, all connected through the proxy with `settings`. */
async function stackOver(settings: Settings): Promise<Stack> {
  const nativeConnection = await connectTemporal(settings.temporal, (options) => NativeConnection.connect(options));
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect(options));
  return {
    settings,
    nativeConnection,
    connection,
    client: new Client({ connection, namespace: settings.temporal.namespace }),
    mlflow: stack.mlflow,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}

describe('Temporal over TLS (a proxy with a CA made by the test)', () => {
  it('with TEMPORAL_TLS_SERVER_CA_CERT_PATH, workers and client connect over TLS and a run finishes', async () => {
    const settings = settingsWith({ TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert });
    expect(settings.temporal.access.tls).toBe(true);
    const tlsStack = await stackOver(settings);
    try {
      const scenario = trainScenario({ version: 'tls', dataPath: NO_DATA, epochs: 2, customer: 'tls-co' });
      await withFakeGpu(tlsStack, { bundle: await workflowBundle(), env: { GF_FAKE_EPOCH_SECONDS: '0.1' } }, async () => {
        const handle = await startScenario(tlsStack.client, scenario);
        const result = await handle.result();
        expect((await stack.mlflow.getRun(result.runId)).info.status).toBe('FINISHED');
      });
      const listed: string[] = [];
      for await (const w of tlsStack.client.workflow.list({ query: `WorkflowId = '${workflowId(scenario)}'` })) listed.push(w.status.name);
      expect(listed).toEqual(['COMPLETED']);
    } finally {
      await tlsStack.close();
    }
  });

  it('without the CA the connection is refused, and the CLI says it is the TLS certificate and where', async () => {
    const id = workflowId(trainScenario({ version: 'tls', dataPath: NO_DATA, customer: 'tls-co' }));
    const untrusted = await gflowInProcess(settingsWith({ TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS: 'true' }), 'status', id);
    expect(untrusted).toBeInstanceOf(CliError);
    expect(untrusted).toMatchObject({ exitCode: 1 });
    expect((untrusted as Error).message).toBe(
      `cannot connect to Temporal at ${proxy.address} over TLS: the server's TLS certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): its CA is unknown; ` +
        'give the CA certificate with TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path in the temporal.toml profile)',
    );

    // the workers' connection (Temporal core) is refused the same way, with the same words
    const worker = settingsWith({ TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS: 'true' });
    const refused = await connectTemporal(worker.temporal, (options) => NativeConnection.connect(options)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TemporalUnreachable);
    expect((refused as Error).message).toMatch(/over TLS: the server's TLS certificate is not trusted/);

    // a plain client facing a TLS server, and a name the certificate does not hold
    const plain = await gflowInProcess(settingsWith({ TEMPORAL_ADDRESS: proxy.address }), 'status', id);
    expect((plain as Error).message).toMatch(new RegExp(`^cannot connect to Temporal at ${proxy.address}: the server expects TLS and this connection is plain; set TEMPORAL_TLS=true`));
    const wrongName = await gflowInProcess(
      settingsWith({ TEMPORAL_ADDRESS: proxy.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCert, TEMPORAL_TLS_SERVER_NAME: 'temporal.elsewhere.example' }),
      'status',
      id,
    );
    expect((wrongName as Error).message).toMatch(/over TLS: the server's TLS certificate is not valid for this name \(ERR_TLS_CERT_ALTNAME_INVALID\); .*TEMPORAL_TLS_SERVER_NAME/);

    // bin/gflow, as a user runs it: one line on stderr, exit 1
    const cli = await gflow(settingsWith({ TEMPORAL_ADDRESS: proxy.address }), ['status', id], 60_000, { TEMPORAL_TLS: 'true' });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`cannot connect to Temporal at ${proxy.address} over TLS: the server's TLS certificate is not trusted`);
  });

  it('a temporal.toml profile selects the address, the namespace and the CA', async () => {
    await stack.connection.workflowService.registerNamespace({ namespace: PROFILE_NAMESPACE, workflowExecutionRetentionPeriod: msToTs('1 day') }).catch((err: Error) => {
      if (!/already/i.test(err.message)) throw err;
    });
    const config = path.join(dir, 'temporal.toml');
    await writeFile(
      config,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '',
        '[profile.tls-test]',
        `address = "${proxy.address}"`,
        `namespace = "${PROFILE_NAMESPACE}"`,
        '',
        '[profile.tls-test.tls]',
        `server_ca_cert_path = "${certs.caCert}"`,
        '',
      ].join('\n'),
    );
    const settings = settingsWith({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'tls-test' });
    expect(settings.temporal).toMatchObject({ address: proxy.address, namespace: PROFILE_NAMESPACE, access: { tls: true } });

    const over = await stackOver(settings);
    const id = 'gf-tls-profile-probe';
    try {
      // a new namespace reaches the frontend's cache within seconds
      await eventually(() => over.client.workflow.start('singleRun', { taskQueue: 'gf-tls-nobody', workflowId: id, args: [] }).then(() => true, () => undefined), 30_000, `a start in ${PROFILE_NAMESPACE}`);
      const inProfile = new Client({ connection: stack.connection, namespace: PROFILE_NAMESPACE });
      expect((await inProfile.workflow.getHandle(id).describe()).status.name).toBe('RUNNING');
      await expect(stack.client.workflow.getHandle(id).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

      const cli = await gflow(settings, ['optimize', 'list'], 60_000, { TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'tls-test' });
      expect(cli).toMatchObject({ code: 0, stdout: expect.stringContaining('no optimizer schedule') });
    } finally {
      await over.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
      await over.close();
    }
  });
});
