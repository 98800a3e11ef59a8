import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadSettings, SettingsError } from '../../common/settings';
import { temporalConnectionOptions } from '../../common/temporal-connection';

/** Issue 11 item 4: the Temporal connection is resolved like the `temporal` CLI's, in one place. */

const dir = mkdtempSync(path.join(os.tmpdir(), 'gf-temporal-config-'));
const file = (name: string, text: string) => {
  const at = path.join(dir, name);
  writeFileSync(at, text);
  return at;
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
const CONFIG = file(
  'temporal.toml',
  `
[profile.default]
address = "file-default:7233"
namespace = "from-file"

[profile.prod]
address = "prod.example:7233"
namespace = "prod-ns"
api_key = "file-key-789"

[profile.prod.tls]
server_ca_cert_path = "${CA}"
server_name = "temporal.prod.example"
`,
);

const optionsOf = (env: Record<string, string>) => temporalConnectionOptions(loadSettings(env).temporal);

describe('Temporal connection options', () => {
  it('with nothing configured: the dev stack’s server, plain, namespace default', () => {
    const s = loadSettings({ GF_TEMPORAL_PORT: '27001' });
    expect(s.temporal).toMatchObject({ address: '127.0.0.1:27001', namespace: 'default' });
    expect(s.temporal.access).toMatchObject({ tls: false, apiKey: false });
    expect(temporalConnectionOptions(s.temporal)).toEqual({ address: '127.0.0.1:27001' });
  });

  it('an API key turns TLS on by default and is sent as the key; TEMPORAL_TLS=false turns TLS off again', () => {
    const env = { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'ns.acct', TEMPORAL_API_KEY: 'key-123', TEMPORAL_GRPC_META_X_TEAM: 'vision' };
    const s = loadSettings(env);
    expect(s.temporal).toMatchObject({ address: 'ns.acct.tmprl.cloud:7233', namespace: 'ns.acct' });
    expect(s.temporal.access).toMatchObject({ tls: true, apiKey: true });
    expect(temporalConnectionOptions(s.temporal)).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: true, apiKey: 'key-123', metadata: { 'x-team': 'vision' } });
    // false, not left out: with an API key the SDK would otherwise turn TLS on itself
    expect(optionsOf({ ...env, TEMPORAL_TLS: 'false' }).tls).toBe(false);
    expect(loadSettings({ ...env, TEMPORAL_TLS: 'false' }).temporal.access.tls).toBe(false);
  });

  it('TEMPORAL_TLS_* give the CA (read when connecting), the server name and TLS without a key', () => {
    const options = optionsOf({ TEMPORAL_ADDRESS: 'secure:7233', TEMPORAL_TLS_SERVER_CA_CERT_PATH: CA, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    expect(options.apiKey).toBeUndefined();
    expect(options.tls).toMatchObject({ serverNameOverride: 'temporal.internal' });
    expect(Buffer.from((options.tls as { serverRootCACertificate: Uint8Array }).serverRootCACertificate).toString()).toContain('not checked here');
  });

  it('a certificate file that is not there fails when connecting, naming it; settings alone still load', () => {
    const missing = path.join(dir, 'missing-ca.pem');
    const s = loadSettings({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing });
    expect(s.temporal.access.tls).toBe(true);
    expect(() => temporalConnectionOptions(s.temporal)).toThrow(SettingsError);
    expect(() => temporalConnectionOptions(s.temporal)).toThrow(missing);
  });

  it('profiles from temporal.toml: `default` unless TEMPORAL_PROFILE names another; the variables override the file, as in the temporal CLI', () => {
    expect(loadSettings({ TEMPORAL_CONFIG_FILE: CONFIG }).temporal).toMatchObject({ address: 'file-default:7233', namespace: 'from-file' });
    const prod = loadSettings({ TEMPORAL_CONFIG_FILE: CONFIG, TEMPORAL_PROFILE: 'prod' });
    expect(prod.temporal).toMatchObject({ address: 'prod.example:7233', namespace: 'prod-ns' });
    expect(temporalConnectionOptions(prod.temporal)).toMatchObject({ address: 'prod.example:7233', apiKey: 'file-key-789', tls: { serverNameOverride: 'temporal.prod.example' } });

    const overridden = loadSettings({ TEMPORAL_CONFIG_FILE: CONFIG, TEMPORAL_PROFILE: 'prod', TEMPORAL_ADDRESS: 'env:7233', TEMPORAL_NAMESPACE: 'env-ns', TEMPORAL_API_KEY: 'env-key', TEMPORAL_TLS_SERVER_NAME: 'env.name' });
    expect(overridden.temporal).toMatchObject({ address: 'env:7233', namespace: 'env-ns' });
    expect(temporalConnectionOptions(overridden.temporal)).toMatchObject({ apiKey: 'env-key', tls: { serverNameOverride: 'env.name' } });
  });

  it('the default file is ~/.config/temporalio/temporal.toml (XDG_CONFIG_HOME first)', () => {
    const xdg = mkdtempSync(path.join(os.tmpdir(), 'gf-xdg-'));
    const home = path.join(xdg, 'temporalio');
    mkdirSync(home);
    writeFileSync(path.join(home, 'temporal.toml'), '[profile.default]\naddress = "xdg:7233"\n');
    expect(loadSettings({ XDG_CONFIG_HOME: xdg }).temporal.address).toBe('xdg:7233');
  });

  it('GF_TEMPORAL_NAMESPACE still works, over the file’s namespace; disagreeing with TEMPORAL_NAMESPACE is refused', () => {
    expect(loadSettings({ GF_TEMPORAL_NAMESPACE: 'gf' }).temporal.namespace).toBe('gf');
    expect(loadSettings({ TEMPORAL_CONFIG_FILE: CONFIG, GF_TEMPORAL_NAMESPACE: 'gf' }).temporal.namespace).toBe('gf');
    expect(loadSettings({ GF_TEMPORAL_NAMESPACE: 'gf', TEMPORAL_NAMESPACE: 'gf' }).temporal.namespace).toBe('gf');
    expect(() => loadSettings({ GF_TEMPORAL_NAMESPACE: 'a', TEMPORAL_NAMESPACE: 'b' })).toThrow('GF_TEMPORAL_NAMESPACE=a and TEMPORAL_NAMESPACE=b differ: set only TEMPORAL_NAMESPACE');
  });

  it('refuses by name: an unknown profile, a broken file, empty variables, host verification off', () => {
    expect(() => loadSettings({ TEMPORAL_CONFIG_FILE: CONFIG, TEMPORAL_PROFILE: 'staging' })).toThrow(new SettingsError(`Temporal client configuration (${CONFIG}, TEMPORAL_PROFILE=staging): Profile 'staging' not found in config data`));
    const broken = file('broken.toml', '[profile.default\naddress = 1\n');
    expect(() => loadSettings({ TEMPORAL_CONFIG_FILE: broken })).toThrow(new RegExp(`^Temporal client configuration \\(${broken}\\): `));
    expect(() => loadSettings({ TEMPORAL_ADDRESS: '' })).toThrow('TEMPORAL_ADDRESS is set but empty');
    expect(() => loadSettings({ TEMPORAL_API_KEY: ' ' })).toThrow('TEMPORAL_API_KEY is set but empty');
    expect(() => loadSettings({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).toThrow(/not supported by the TypeScript SDK/);
  });

  it('never shows the API key or a private key when settings are printed or serialised', () => {
    const s = loadSettings({ TEMPORAL_API_KEY: 'secret-key-456', TEMPORAL_TLS_CLIENT_CERT_DATA: 'CERT', TEMPORAL_TLS_CLIENT_KEY_DATA: 'private-key-data-xyz' });
    const shown = `${JSON.stringify(s)} ${inspect(s, { depth: 10, showHidden: true })}`;
    expect(shown).not.toContain('secret-key-456');
    expect(shown).not.toContain('private-key-data-xyz');
    expect(temporalConnectionOptions(s.temporal)).toMatchObject({ apiKey: 'secret-key-456', tls: { clientCertPair: { key: Buffer.from('private-key-data-xyz') } } });
  });
});
