import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { versionLines } from '../../cli/version-commands';
import { loadSettings, SettingsError } from '../../common/settings';
import { isDevStackTemporal } from '../../stack/dev-stack';
import { BUILD_COMMIT_FILE, BuildIdUnknownError, buildIdOf, workerDeploymentOptions } from '../../common/worker-deployment';

const REPO = path.resolve(__dirname, '../..');

describe('the build id the workers join the Worker Deployment with', () => {
  let dir: string;
  beforeEach(async () => {
    // outside any git checkout: like an image without .git
    dir = await mkdtemp(path.join(os.tmpdir(), 'gf-build-id-'));
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ version: '2.3.4' }));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is the package version and the checkout commit by default', () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(buildIdOf(loadSettings({}, REPO))).toMatch(new RegExp(`^${version.replace(/\./g, '\\.')}-[0-9a-f]{12}$`));
  });

  it('is GF_BUILD_ID when set', () => {
    expect(buildIdOf(loadSettings({ GF_BUILD_ID: '2026.12.07-rc1' }, REPO))).toBe('2026.12.07-rc1');
  });

  it('takes the commit from the BUILD_COMMIT file where there is no git checkout', async () => {
    await writeFile(path.join(dir, BUILD_COMMIT_FILE), 'abc1234def56\n');
    expect(buildIdOf({ repoRoot: dir, deployment: { name: 'guardianflow' } })).toBe('2.3.4-abc1234def56');
  });

  it('refuses to guess without either, naming GF_BUILD_ID and the build argument', () => {
    const err = (() => {
      try {
        return buildIdOf({ repoRoot: dir, deployment: { name: 'guardianflow' } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(BuildIdUnknownError);
    expect(err).toBeInstanceOf(SettingsError);
    expect((err as Error).message).toMatch(/GF_BUILD_ID.*GIT_COMMIT/);
  });
});

describe('deployment settings', () => {
  it('default to the deployment guardianflow', () => {
    expect(loadSettings({}, REPO).deployment).toEqual({ name: 'guardianflow' });
    expect(loadSettings({ GF_DEPLOYMENT_NAME: 'gf-lab', GF_BUILD_ID: 'b7' }, REPO).deployment).toEqual({ name: 'gf-lab', buildId: 'b7' });
  });

  it('refuse a deployment name with a dot and a build id with spaces, by variable', () => {
    expect(() => loadSettings({ GF_DEPLOYMENT_NAME: 'guardian.flow' }, REPO)).toThrow(/GF_DEPLOYMENT_NAME/);
    expect(() => loadSettings({ GF_BUILD_ID: 'my build' }, REPO)).toThrow(/GF_BUILD_ID/);
    expect(() => loadSettings({ GF_BUILD_ID: '' }, REPO)).toThrow(/GF_BUILD_ID/);
  });

  it('pin every workflow by default', () => {
    expect(workerDeploymentOptions({ deploymentName: 'guardianflow', buildId: 'b1' })).toEqual({
      version: { deploymentName: 'guardianflow', buildId: 'b1' },
      useWorkerVersioning: true,
      defaultVersioningBehavior: 'PINNED',
    });
  });
});

describe('gflow dev up', () => {
  it("sets the current version on its own Temporal only, never on one a profile or TEMPORAL_ADDRESS names", () => {
    expect(isDevStackTemporal(loadSettings({ TEMPORAL_CONFIG_FILE: '/nonexistent.toml' }, REPO))).toBe(true);
    expect(isDevStackTemporal(loadSettings({ TEMPORAL_CONFIG_FILE: '/nonexistent.toml', GF_TEMPORAL_PORT: '27300' }, REPO))).toBe(true);
    expect(isDevStackTemporal(loadSettings({ TEMPORAL_CONFIG_FILE: '/nonexistent.toml', TEMPORAL_ADDRESS: 'temporal.prod.internal:7233' }, REPO))).toBe(false);
  });
});

describe('gflow version', () => {
  it('shows the current version, each version with its open workflows, and this checkout', () => {
    const lines = versionLines(
      {
        deployment: 'guardianflow',
        current: 'b2',
        versions: [
          { buildId: 'b2', status: 'current', running: 3, createdAt: '2026-12-07T04:00:00.000Z' },
          { buildId: 'b1', status: 'draining', running: 1, createdAt: '2026-12-01T04:00:00.000Z' },
        ],
        unversionedRunning: 2,
      },
      'b2',
    );
    expect(lines[0]).toBe('worker deployment guardianflow: current b2');
    const rows = lines[1].split('\n');
    expect(rows[0]).toMatch(/^build id\s+status\s+running\s+created$/);
    expect(rows[1]).toMatch(/^b2 \(this checkout\)\s+current\s+3\s+2026-12-07T04:00:00\.000Z$/);
    expect(rows[2]).toMatch(/^b1\s+draining\s+1\s+2026-12-01T04:00:00\.000Z$/);
    expect(lines[2]).toMatch(/^2 running workflow\(s\) on no version/);
    expect(versionLines({ deployment: 'guardianflow', versions: [], unversionedRunning: 0 }, 'b1')[0]).toMatch(/current \(none: new workflows wait/);
  });
});
