import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { CONTROL_QUEUE, WorkflowType } from '../common/contract';
import { actor, RegistryOp, registryWorkflowId } from '../common/registry';
import type { Settings } from '../common/settings';
import { filterLiteral, mlflowClientFor } from '../activities/tracking/mlflow-client';
import type { registryMove, RegistryMoveInput, RegistryMoveResult } from '../workflows/registry-move';
import { CliError } from './cli-error';
import { mlflowModelUrl } from './links';
import { currentUser } from './promotion-commands';
import { applicationFailureOf, connect } from './temporal';

/**
 * Runs a promote or rollback under the model's workflow id. While another move of the same
 * model runs, this one waits for it and then starts, so concurrent moves apply one after another.
 */
export async function moveModel(client: Client, input: RegistryMoveInput): Promise<RegistryMoveResult> {
  const workflowId = registryWorkflowId(input.model);
  for (;;) {
    try {
      const handle = await client.workflow.start<typeof registryMove>(WorkflowType.registryMove, {
        taskQueue: CONTROL_QUEUE,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      });
      return await handle.result();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      await client.workflow
        .getHandle(workflowId)
        .result()
        .catch(() => undefined);
    }
  }
}

const showAliases = (aliases: Record<string, string>) =>
  Object.entries(aliases)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([alias, version]) => `${alias}=v${version}`)
    .join(' ') || '(none)';

/** `gflow promote`, `gflow rollback` and `gflow list models`. */
export function registerRegistryCommands(program: Command, settings: Settings): void {
  const move = async (input: RegistryMoveInput) => {
    const { client, close } = await connect(settings);
    try {
      const result = await moveModel(client, input);
      console.log(`${result.op} ${result.model}`);
      console.log(`  before: ${showAliases(result.before)}`);
      console.log(`  after:  ${showAliases(result.after)}`);
      console.log(`  MLflow: ${mlflowModelUrl(settings, result.model, result.after.champion)}`);
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const failure = applicationFailureOf(err);
        throw new CliError(`${input.op} ${input.model} refused: ${failure?.message ?? err.message}`, 1, { cause: err });
      }
      throw err;
    } finally {
      await close();
    }
  };

  program
    .command('promote <model>')
    .description('make the candidate (or --version) the champion; the old champion becomes rollback')
    .option('--version <n>', 'promote this version instead of the candidate')
    .option('--reason <text>', 'why, recorded in the alias history (gflow history)')
    .option('--by <name>', 'who moves it (default: the current user)')
    .action((model: string, opts: { version?: string; reason?: string; by?: string }) => move({ model, op: RegistryOp.promote, version: opts.version, by: actor.user(opts.by ?? currentUser()), reason: opts.reason }));

  program
    .command('rollback <model>')
    .description('make the rollback version the champion again; the demoted one becomes candidate')
    .option('--reason <text>', 'why, recorded in the alias history (gflow history)')
    .option('--by <name>', 'who moves it (default: the current user)')
    .action((model: string, opts: { reason?: string; by?: string }) => move({ model, op: RegistryOp.rollback, by: actor.user(opts.by ?? currentUser()), reason: opts.reason }));

  const list = program.command('list').description('list what is recorded in MLflow');
  list
    .command('models')
    .description('registered models, their versions and aliases')
    .option('--filter <text>', "only models whose name contains this text")
    .action(async (opts: { filter?: string }) => {
      const mlflow = mlflowClientFor(settings);
      const filter = opts.filter ? `name LIKE ${filterLiteral(`%${opts.filter}%`)}` : '';
      const models = await mlflow.searchRegisteredModels(filter);
      if (models.length === 0) console.log('no registered models');
      for (const model of models.sort((a, b) => a.name.localeCompare(b.name))) {
        console.log(model.name);
        const versions = await mlflow.searchModelVersions(`name=${filterLiteral(model.name)}`);
        for (const v of versions.sort((a, b) => Number(b.version) - Number(a.version))) {
          const aliases = (model.aliases ?? []).filter((a) => a.version === v.version).map((a) => a.alias);
          console.log(`  v${v.version.padEnd(4)} ${(aliases.length ? `[${aliases.join(', ')}]` : '').padEnd(30)} run ${v.run_id ?? '-'}`);
        }
      }
    });
}
