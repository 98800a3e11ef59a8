import { ApplicationFailure, Client, Connection } from '@temporalio/client';
import type { Settings } from '../common/settings';
import { CliError } from './cli-error';

/** A client for one command; an unreachable server is the user's to fix, so it is a plain message. */
export async function connect(settings: Settings): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: settings.temporal.address, connectTimeout: '5s' }).catch((err: unknown) => {
    throw new CliError(`cannot reach Temporal at ${settings.temporal.address} (${(err as Error).message}); start the stack with: gflow dev up`, 1, { cause: err });
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

