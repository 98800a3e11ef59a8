import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of a test CA and of a server certificate it signed for `localhost` and 127.0.0.1. */
export interface TestCertificates {
  caCert: string;
  serverCert: string;
  serverKey: string;
}

/**
 * Makes a CA and a server certificate in `dir` with openssl (argument lists, no shell): node:crypto
 * reads X.509 certificates but cannot sign them. A missing openssl fails with that said.
 */
export async function makeTestCertificates(dir: string, name = 'gf-test'): Promise<TestCertificates> {
  await run('openssl', ['version']).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`openssl is needed to make the test's CA and it cannot run (${err.code ?? err.message}); install Debian's openssl package`);
  });
  const at = (file: string) => path.join(dir, `${name}-${file}`);
  const days = ['-days', '2'];
  await writeFile(at('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), ...days, '-subj', `/CN=${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost']);
  await run('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), ...days,
    '-extfile', at('server.ext')]);
  return { caCert: at('ca.pem'), serverCert: at('server.pem'), serverKey: at('server.key') };
}

/** A running proxy and its `host:port`. */
export interface TlsProxy {
  address: string;
  close(): Promise<void>;
}

/**
 * A TLS-terminating proxy on loopback in front of a plain server (`target` = `host:port`): the
 * Temporal dev server has no TLS flags. gRPC is HTTP/2, which passes through the byte pipe
 * untouched; ALPN offers `h2`, which gRPC clients ask for.
 */
export async function startTlsProxy(target: string, certs: TestCertificates): Promise<TlsProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = tls.createServer({ cert: await readFile(certs.serverCert), key: await readFile(certs.serverKey), ALPNProtocols: ['h2'] }, (client) => {
    const upstream = net.connect(port, host);
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
