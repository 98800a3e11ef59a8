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
