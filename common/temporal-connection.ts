import type { TLSConfig } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import { refuseBlank, SettingsError } from './settings-error';

type Env = Record<string, string | undefined>;

/** What `Connection.connect` (clients) and `NativeConnection.connect` (workers) both accept, so every process connects alike. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/** Where Temporal is and how to get in: the part of the settings every connection is built from. */
export interface TemporalTarget {
  address: string;
  namespace: string;
  access: TemporalAccess;
}

/**
 * TLS, API key and gRPC headers of a `temporal.toml` profile after the `TEMPORAL_*` overrides. The
 * profile stays in a private field: settings are printed and serialised (`gflow dev`, tests), and a
 * private key or API key must never show there; only `connectionOptions` hands it out, to the one
 * call that connects. Certificate files are read then too, so a command that never connects
 * (`gflow validate`) does not fail on a missing one.
 */
export class TemporalAccess {
  readonly #profile: Omit<ClientConfigProfile, 'address' | 'namespace'>;
  /** Whether connections are encrypted: any TLS setting that does not disable it, or an API key (Temporal Cloud). */
  readonly tls: boolean;
  readonly apiKey: boolean;

  constructor(profile: Omit<ClientConfigProfile, 'address' | 'namespace'>) {
    this.#profile = profile;
    this.tls = profile.tls ? profile.tls.disabled !== true : profile.apiKey !== undefined;
    this.apiKey = profile.apiKey !== undefined;
  }

  /** The options for `address`, with certificates read and secrets revealed; an unreadable certificate file is a SettingsError naming it. */
  connectionOptions(address: string): TemporalConnectionOptions {
    let built: ReturnType<typeof toClientOptions>;
    try {
      built = toClientOptions({ ...this.#profile, address });
    } catch (err) {
      throw new SettingsError(`Temporal TLS settings: ${(err as Error).message}`);
    }
    const { tls, apiKey, metadata } = built.connectionOptions;
    return {
      address,
      ...(tls !== undefined && tls !== null ? { tls } : {}),
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(metadata !== undefined ? { metadata: metadata as Record<string, string> } : {}),
    };
  }
}

/** The options both connection kinds take, for the settings' Temporal. */
export function temporalConnectionOptions(target: Pick<TemporalTarget, 'address' | 'access'>): TemporalConnectionOptions {
  return target.access.connectionOptions(target.address);
}

/** Variables read as the `temporal` CLI reads them; set but empty is refused, as for every GF_* variable. */
const CHECKED = ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_API_KEY', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE', 'GF_TEMPORAL_NAMESPACE'];

/**
 * Resolves the connection the way the `temporal` CLI does (`@temporalio/envconfig`): the profile
 * `TEMPORAL_PROFILE` (default `default`) of `TEMPORAL_CONFIG_FILE` (default
 * `~/.config/temporalio/temporal.toml`), each field overridden by its variable (`TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`, `TEMPORAL_GRPC_META_*`). Nothing
 * configured means the dev stack's server at `defaultAddress`, plain, namespace `default`.
 * `GF_TEMPORAL_NAMESPACE`, the name GuardianFlow used first, still works as `TEMPORAL_NAMESPACE`.
 */
export function loadTemporalTarget(env: Env, defaultAddress: string): TemporalTarget {
  for (const key of CHECKED) refuseBlank(key, env[key]);
  if (env.GF_TEMPORAL_NAMESPACE !== undefined && env.TEMPORAL_NAMESPACE !== undefined && env.GF_TEMPORAL_NAMESPACE !== env.TEMPORAL_NAMESPACE) {
    throw new SettingsError(`GF_TEMPORAL_NAMESPACE=${env.GF_TEMPORAL_NAMESPACE} and TEMPORAL_NAMESPACE=${env.TEMPORAL_NAMESPACE} differ: set only TEMPORAL_NAMESPACE`);
  }
  if (env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === 'true' || env.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION === '1') {
    // the TypeScript SDK's TLS options have no such switch; ignoring it would fail later with a less clear message
    throw new SettingsError(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported by the TypeScript SDK: give the CA with TEMPORAL_TLS_SERVER_CA_CERT_PATH, or the name in the certificate with TEMPORAL_TLS_SERVER_NAME',
    );
  }
  const overrideEnvVars: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) overrideEnvVars[key] = value;
  if (env.GF_TEMPORAL_NAMESPACE !== undefined) overrideEnvVars.TEMPORAL_NAMESPACE = env.GF_TEMPORAL_NAMESPACE;
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars });
  } catch (err) {
    const file = env.TEMPORAL_CONFIG_FILE ?? 'the default ~/.config/temporalio/temporal.toml';
    throw new SettingsError(`Temporal client configuration (${file}${env.TEMPORAL_PROFILE ? `, TEMPORAL_PROFILE=${env.TEMPORAL_PROFILE}` : ''}): ${(err as Error).message}`);
  }
  const { address, namespace, ...access } = profile;
  return { address: address ?? defaultAddress, namespace: namespace ?? 'default', access: new TemporalAccess(access) };
}
