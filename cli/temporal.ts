import { ApplicationFailure, Client, Connection } from '@temporalio/client';
import type { Settings } from '../common/settings';
import { connectTemporal, TemporalUnreachable } from '../common/temporal-unreachable';
import { CliError } from './cli-error';

/**
 * A client for one command, connected as the `temporal` CLI would (profile, TLS, API key); an
 * unreachable server or a TLS problem is the user's to fix, so it is a plain message.
 */
export async function connect(settings: Settings): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await connectTemporal(settings.temporal, (options) => Connection.connect({ ...options, connectTimeout: '5s' })).catch((err: unknown) => {
    if (!(err instanceof TemporalUnreachable)) throw err;
    const advice = err.answered ? '' : '; start the stack with: gflow dev up (or point TEMPORAL_ADDRESS or a temporal.toml profile at your server)';
    throw new CliError(`${err.message}${advice}`, 1, { cause: err });
  });
  return { client: new Client({ connection, namespace: settings.temporal.namespace }), close: () => connection.close() };
}

/** The typed failure at the root of a workflow failure (through ActivityFailure wrappers). */
export function applicationFailureOf(err: Error): ApplicationFailure | undefined {
  let current: unknown = err;
  let found: ApplicationFailure | undefined;
  while (current instanceof Error) {
    if (current instanceof ApplicationFailure) found = current;
    current = current.cause;
  }
  return found;
}

