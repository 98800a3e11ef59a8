import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../../common/settings';
import { devStatus, devUp } from '../../stack/dev-stack';
import { PortInUseError, ServerStartError } from '../../stack/errors';
import { isPortFree } from '../../stack/ports';

jest.setTimeout(240_000);

const quiet = { log: () => undefined };

/** Settings for a second stack beside the test stack: its own state folder and these ports. */
async function otherStack(env: Record<string, string>): Promise<Settings> {
  const stateDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-stack-'));
  return loadSettings({ ...process.env, GF_STATE_DIR: stateDir, ...env });
}

const OTHER_PORTS = {
  GF_TEMPORAL_PORT: '37233',
  GF_TEMPORAL_UI_PORT: '37234',
  GF_MLFLOW_PORT: '35000',
  GF_S3_PORT: '37333',
  GF_WEED_MASTER_PORT: '39433',
  GF_WEED_VOLUME_PORT: '37080',
  GF_WEED_FILER_PORT: '37888',
};

describe('gflow dev stack', () => {
  it('is up and healthy, and a second `up` reuses the running servers', async () => {
    const settings = loadSettings();
    const before = await devStatus(settings);
    const servers = before.filter((s) => !s.name.endsWith('worker') && s.name !== 'fleet-api');
    expect(servers.map((s) => [s.name, s.healthy])).toEqual([
      ['temporal', true],
      ['seaweedfs', true],
      ['mlflow', true],
    ]);
    const after = await devUp(settings, quiet);
    expect(after.filter((s) => !s.name.endsWith('worker') && s.name !== 'fleet-api').map((s) => s.pid)).toEqual(servers.map((s) => s.pid));
  });

  it('refuses a busy port with the server name and the setting that moves it', async () => {
    const settings = await otherStack({});
    const error = await devUp(settings, quiet).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PortInUseError);
    expect((error as Error).message).toBe(
      `Temporal dev server: port ${settings.temporal.port} is already in use by another process; stop it or choose another port with GF_TEMPORAL_PORT`,
    );
  });

  it('names the server and its log file when it fails to start, and stops the parts it started', async () => {
    const binDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-bin-'));
    const realBin = path.dirname(loadSettings().python);
    await mkdir(binDir, { recursive: true });
    for (const name of ['python', 'weed', 'mlflow']) await symlink(path.join(realBin, name), path.join(binDir, name));
    const brokenTemporal = path.join(binDir, 'temporal');
    await writeFile(brokenTemporal, '#!/bin/sh\necho "unable to open database file: permission denied" >&2\nexit 1\n');
    await chmod(brokenTemporal, 0o755);
    const settings = await otherStack({ ...OTHER_PORTS, GF_PYTHON: path.join(binDir, 'python') });

    const error = await devUp(settings, quiet).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerStartError);
    const message = (error as Error).message;
    expect(message).toContain('Temporal dev server failed to start: the process exited');
    expect(message).toContain(`log: ${path.join(settings.stateDir, 'logs', 'temporal.log')}`);
    expect(message).toContain('unable to open database file');

    const statuses = await devStatus(settings);
    expect(statuses.filter((s) => s.pid !== undefined)).toEqual([]);
    expect(await isPortFree(settings.host, settings.mlflow.port)).toBe(true);
    expect(await isPortFree(settings.host, settings.s3.port)).toBe(true);
  });
});
