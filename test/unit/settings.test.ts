import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { MlflowClient, mlflowClientFor } from '../../activities/tracking/mlflow-client';
import { loadSettings, SettingsError } from '../../common/settings';

/** Issue 16, defect 13: empty variables are refused by name; IPv6 hosts make valid URLs. */

describe('settings from the environment', () => {
  it.each(['GF_STATE_DIR', 'GF_HOST', 'GF_WORK_DIR', 'GF_S3_BUCKET', 'MLFLOW_TRACKING_URI', 'GF_MLFLOW_PORT'])('refuses %s="" naming it', (key) => {
    expect(() => loadSettings({ [key]: '' })).toThrow(SettingsError);
    expect(() => loadSettings({ [key]: '  ' })).toThrow(new RegExp(`^${key} is set but empty: unset it to use the default, or give it a value$`));
  });

  it('brackets an IPv6 GF_HOST in every URL and address built from it', () => {
    const s = loadSettings({ GF_HOST: '::1' });
    expect(s.host).toBe('::1');
    expect(s.temporal.address).toBe('[::1]:7233');
    expect(s.temporal.uiUrl).toBe('http://[::1]:8233');
    expect(s.mlflow.url).toBe('http://[::1]:5000');
    expect(s.s3.endpoint).toBe('http://[::1]:8333');
    expect(new URL(s.mlflow.url).port).toBe('5000');
  });

  it('keeps an IPv4 host and the defaults as they were', () => {
    const s = loadSettings({ GF_STATE_DIR: '/tmp/gf-state' });
    expect(s.stateDir).toBe('/tmp/gf-state');
    expect(s.mlflow.url).toBe('http://127.0.0.1:5000');
    expect(loadSettings({ GF_HOST: '10.0.0.5' }).s3.endpoint).toBe('http://10.0.0.5:8333');
  });
});

describe('MLflow credentials from MLflow’s own variables', () => {
  it('a token is sent as a bearer header on every request, and shown nowhere', async () => {
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const settings = loadSettings({ MLFLOW_TRACKING_URI: url, MLFLOW_TRACKING_TOKEN: 'tok-123' });
      await mlflowClientFor(settings).searchExperiments();
      await new MlflowClient(url).searchExperiments();
      expect(seen).toEqual(['Bearer tok-123', undefined]);
      expect(`${JSON.stringify(settings)} ${inspect(settings, { depth: 10 })} ${String(settings.mlflow.authorization)}`).not.toContain('tok-123');
    } finally {
      server.close();
    }
  });

  it('basic auth from username and password; a half-given pair or both kinds at once are refused by name', () => {
    const basic = loadSettings({ MLFLOW_TRACKING_USERNAME: 'ann', MLFLOW_TRACKING_PASSWORD: 'pw' }).mlflow.authorization!;
    expect(basic.reveal()).toBe(`Basic ${Buffer.from('ann:pw').toString('base64')}`);
    expect(loadSettings({}).mlflow.authorization).toBeUndefined();
    expect(() => loadSettings({ MLFLOW_TRACKING_USERNAME: 'ann' })).toThrow('MLFLOW_TRACKING_USERNAME is set without MLFLOW_TRACKING_PASSWORD: basic auth needs both');
    expect(() => loadSettings({ MLFLOW_TRACKING_PASSWORD: 'pw' })).toThrow('MLFLOW_TRACKING_PASSWORD is set without MLFLOW_TRACKING_USERNAME: basic auth needs both');
    expect(() => loadSettings({ MLFLOW_TRACKING_TOKEN: 't', MLFLOW_TRACKING_USERNAME: 'ann', MLFLOW_TRACKING_PASSWORD: 'pw' })).toThrow(/both set: use one way/);
  });
});
