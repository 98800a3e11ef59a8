import type { Command } from 'commander';
import { WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { pauseSignal, resumeSignal, setMaxRunsUpdate, WorkflowType } from '../common/contract';
import type { Settings } from '../common/settings';
import { CliError } from './cli-error';
import { connect } from './temporal';

/**
 * Only a sweep handles pause, resume and max_runs. Temporal keeps a signal that no handler
 * takes without complaint, so another workflow is refused here rather than silently ignored.
 */
async function sweepHandle(client: Client, id: string): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(id);
  const { type } = await handle.describe();
  if (type !== WorkflowType.sweep) throw new CliError(`${id} is a ${type} workflow; pause, resume and set-max-runs work on sweeps`, 1);
  return handle;
}

async function withSweep(settings: Settings, id: string, act: (handle: WorkflowHandle) => Promise<void>): Promise<void> {
  const { client, close } = await connect(settings);
  try {
    await act(await sweepHandle(client, id));
  } finally {
    await close();
  }
}

/** `pause`, `resume`, `set-max-runs`: steering a running sweep. */
export function registerBatchCommands(program: Command, settings: Settings): void {
  program
    .command('pause <workflowId>')
    .description('a sweep starts no new trial; running ones finish')
    .action(async (id: string) =>
      withSweep(settings, id, async (handle) => {
        await handle.signal(pauseSignal);
        console.log(`pause sent to ${id}`);
      }),
    );

  program
    .command('resume <workflowId>')
    .description('a paused sweep starts trials again')
    .action(async (id: string) =>
      withSweep(settings, id, async (handle) => {
        await handle.signal(resumeSignal);
        console.log(`resume sent to ${id}`);
      }),
    );

  program
    .command('set-max-runs <workflowId> <n>')
    .description('raise the trial count of a running sweep')
    .action(async (id: string, n: string) => {
      const maxRuns = Number(n);
      if (!Number.isInteger(maxRuns) || maxRuns < 1) throw new CliError(`set-max-runs: expected a whole number of trials, got ${JSON.stringify(n)}`, 2);
      await withSweep(settings, id, async (handle) => {
        const total = await handle.executeUpdate(setMaxRunsUpdate, { args: [maxRuns] }).catch((err: unknown) => {
          if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${id}: ${err.cause?.message ?? err.message}`, 1, { cause: err });
          throw err;
        });
        console.log(`${id}: max_runs ${maxRuns}, ${total} trials in all`);
      });
    });
}
