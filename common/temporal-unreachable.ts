import { isIP } from 'node:net';
import tls from 'node:tls';
import { temporalConnectionOptions, type TemporalConnectionOptions, type TemporalTarget } from './temporal-connection';

/**
 * A Temporal server that could not be connected to, with the address and, where it is one, the
 * TLS problem in words. `answered`: something at the address spoke TLS or refused it, so "start
 * the stack" is the wrong advice.
 */
export class TemporalUnreachable extends Error {
  constructor(
    message: string,
    readonly address: string,
    readonly answered: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TemporalUnreachable';
  }
}

/**
 * Connects with the settings' options (`connect` is `Connection.connect` or
 * `NativeConnection.connect`, so this module loads no worker code) and turns a failure into a
 * TemporalUnreachable that says why.
 */
export async function connectTemporal<T>(target: Pick<TemporalTarget, 'address' | 'access'>, connect: (options: TemporalConnectionOptions) => Promise<T>): Promise<T> {
  const options = temporalConnectionOptions(target);
  try {
    return await connect(options);
  } catch (err) {
    throw await explainConnectFailure(err, options);
  }
}

const PROBE_TIMEOUT_MS = 3000;

type Handshake = { kind: 'secure'; certificateError?: string } | { kind: 'failed'; code?: string; message: string };

/**
 * Why a connection failed. The gRPC client of `Connection` reports an untrusted certificate, a
 * wrong name and a plain client facing a TLS server all as "Failed to connect before the
 * deadline", so a TLS handshake of our own with the same CA, name and client certificate finds
 * out which; a server that answered the handshake well leaves the client's own message.
 */
export async function explainConnectFailure(err: unknown, options: TemporalConnectionOptions): Promise<TemporalUnreachable> {
  const { address } = options;
  const cause = err instanceof Error ? err.message : String(err);
  const fail = (message: string, answered: boolean) => new TemporalUnreachable(message, address, answered, { cause: err });
  const tlsOptions = options.tls === true ? {} : options.tls || undefined;
  const handshake = await probeTls(address, tlsOptions ?? {});
  if (tlsOptions === undefined) {
    if (handshake.kind === 'secure') {
      return fail(
        `cannot connect to Temporal at ${address}: the server expects TLS and this connection is plain; set TEMPORAL_TLS=true (and TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA), or use a temporal.toml profile with TLS`,
        true,
      );
    }
    return fail(`cannot reach Temporal at ${address} (${cause})`, false);
  }
  if (handshake.kind === 'secure' && handshake.certificateError !== undefined) {
    return fail(`cannot connect to Temporal at ${address} over TLS: ${certificateAdvice(handshake.certificateError)}`, true);
  }
  if (handshake.kind === 'failed' && handshake.code === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    return fail(`cannot connect to Temporal at ${address} over TLS: the server does not speak TLS; set TEMPORAL_TLS=false or remove the TLS settings`, true);
  }
  if (handshake.kind === 'failed' && !isNetworkError(handshake.code)) {
    return fail(`cannot connect to Temporal at ${address} over TLS: the TLS handshake failed (${handshake.message})`, true);
  }
  return fail(`cannot reach Temporal at ${address} (${cause})`, handshake.kind === 'secure');
}

/** Node's verification codes in words, with the setting that fixes each. */
function certificateAdvice(code: string): string {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's TLS certificate is not valid for this name (${code}); connect by a name the certificate holds, or set TEMPORAL_TLS_SERVER_NAME to one`;
  }
  if (/SELF_SIGNED|UNABLE_TO_(VERIFY|GET_ISSUER)|CERT_UNTRUSTED/.test(code)) {
    return `the server's TLS certificate is not trusted (${code}): its CA is unknown; give the CA certificate with TEMPORAL_TLS_SERVER_CA_CERT_PATH (or tls.server_ca_cert_path in the temporal.toml profile)`;
  }
  return `the server's TLS certificate was refused (${code})`;
}

function isNetworkError(code: string | undefined): boolean {
  return code === undefined || ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT'].includes(code);
}

/** `host:port` as Temporal reads it (`[v6]:port`; port 7233 when left out). */
function hostAndPort(address: string): { host: string; port: number } {
  const url = new URL(`grpc://${address}`);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port ? Number(url.port) : 7233 };
}

/** One TLS handshake that accepts any certificate but reports what verification said of it. */
function probeTls(address: string, config: TLSConfig): Promise<Handshake> {
  const { host, port } = hostAndPort(address);
  const bytes = (data: Uint8Array | undefined) => (data ? Buffer.from(data) : undefined);
  return new Promise((resolve) => {
    const socket = tls.connect({
      host,
      port,
      // an IP is checked against the certificate's IP entries; SNI may only carry a name
      servername: config.serverNameOverride ?? (isIP(host) ? undefined : host),
      ca: bytes(config.serverRootCACertificate),
      cert: bytes(config.clientCertPair?.crt),
      key: bytes(config.clientCertPair?.key),
      ALPNProtocols: ['h2'],
      rejectUnauthorized: false,
    });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(Object.assign(new Error(`no TLS answer in ${PROBE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })));
    socket.once('secureConnect', () => {
      // Node sets the verification code (a string, whatever the typings say) when it does not trust the certificate
      const verdict = socket.authorizationError as unknown as string | null;
      socket.destroy();
      resolve(verdict ? { kind: 'secure', certificateError: String(verdict) } : { kind: 'secure' });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'failed', code: e.code, message: e.message }));
  });
}

type TLSConfig = Exclude<TemporalConnectionOptions['tls'], boolean | undefined>;
