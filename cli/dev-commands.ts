import type { Command } from 'commander';
import type { Settings } from '../common/settings';
import { devDown, devStatus, devUp, type ServerStatus } from '../stack/dev-stack';
import { PortInUseError, ServerMissingError, ServerStartError } from '../stack/errors';
import { CliError } from './cli-error';

const log = (line: string) => console.log(`  ${line}`);

function printStatus(statuses: ServerStatus[]): void {
  for (const s of statuses) {
    const state = s.pid === undefined ? 'stopped' : s.healthy ? `running (pid ${s.pid})` : `unhealthy (pid ${s.pid})`;
    console.log(`  ${s.title.padEnd(34)} ${state.padEnd(22)} ${s.url ?? ''}`);
  }
}

/** Stack failures are the user's to fix (a busy port, a missing install): no stack trace. */
function explained(err: unknown): never {
  if (err instanceof PortInUseError || err instanceof ServerStartError || err instanceof ServerMissingError) throw new CliError(err.message, 1, { cause: err });
  throw err;
}

/** `gflow dev up|down|status`: the local stack of real servers plus one control and one GPU worker. */
export function registerDevCommands(program: Command, settings: Settings): void {
  const dev = program.command('dev').description('the local dev stack: Temporal, SeaweedFS (S3), MLflow and the workers');

  dev
    .command('up')
    .description('start whatever is not running and wait until healthy')
    .option('--no-workers', 'start only the servers')
    .action(async (opts: { workers: boolean }) => {
      console.log(`dev stack (state in ${settings.stateDir}):`);
      printStatus(await devUp(settings, { log, workers: opts.workers }).catch(explained));
      console.log(`\nTemporal UI: ${settings.temporal.uiUrl}\nMLflow UI:   ${settings.mlflow.url}`);
    });

  dev
    .command('down')
    .description('stop the workers and the servers (their data stays in the state folder)')
    .action(async () => {
      await devDown(settings, { log });
    });

  dev
    .command('status')
    .description('show what runs and whether it is healthy')
    .action(async () => {
      const statuses = await devStatus(settings);
      printStatus(statuses);
      if (statuses.some((s) => !s.healthy)) process.exitCode = 3;
    });
}
