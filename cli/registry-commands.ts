import type { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowIdConflictPolicy, type Client } from '@temporalio/client';
import { CONTROL_QUEUE, WorkflowType } from '../common/contract';
import { actor, RegistryOp, registryWorkflowId } from '../common/registry';
import { registryMoveMetadata } from '../common/workflow-metadata';
import type { Settings } from '../common/settings';
import { filterLiteral, mlflowClientFor, type MlflowClient } from '../activities/tracking/mlflow-client';
import type { RegisteredModel } from '../activities/tracking/mlflow-responses';
import { asFlag, FilterQuery, parseQuery, QueryParamError } from '../fleet/query-params';
import type { FleetFilter } from '../fleet/select';
import { TaskType } from '../scenarios/schema';
import type { registryMove, RegistryMoveInput, RegistryMoveResult } from '../workflows/registry-move';
import { CliError } from './cli-error';
import { mlflowModelUrl } from './links';
import { modelDetails, modelDetailsText, modelMatches, modelsTable, modelVersionRows, type ModelVersionRow } from './model-listing';
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
        ...registryMoveMetadata(input),
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

/** `gflow promote`, `gflow rollback`, `gflow list models` and `gflow show model`. */
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
    .description('registered versions with aliases, architecture, input size, dataset, epochs, mAP50, latency p95, variants and times')
    .option('--customer <customer>', 'only this customer’s models')
    .option('--task <task>', `only this task (${Object.values(TaskType).join(', ')})`)
    .option('--filter <text>', 'only models whose name contains this text')
    .option('--json', 'print JSON for scripts instead of a table')
    .action(async (opts: { customer?: string; task?: string; filter?: string; json?: boolean }) => {
      const filter = siteFilter({ customer: opts.customer, task: opts.task });
      const mlflow = mlflowClientFor(settings);
      const models = (await mlflow.searchRegisteredModels(opts.filter ? `name LIKE ${filterLiteral(`%${opts.filter}%`)}` : '')).filter((m) => modelMatches(m.name, filter));
      const rows = await versionRows(mlflow, models);
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(rows.length === 0 ? 'no registered models' : `${modelsTable(rows)}\n${rows.length} versions of ${models.length} models`);
    });

  const show = program.commands.find((c) => c.name() === 'show') ?? program.command('show').description('one thing recorded in MLflow, in full');
  show
    .command('model <name>')
    .description('one registered model: its versions, what each is, and the models:/name@champion URI to deploy')
    .option('--json', 'print JSON for scripts instead of a table')
    .action(async (name: string, opts: { json?: boolean }) => {
      const mlflow = mlflowClientFor(settings);
      const model = await mlflow.getRegisteredModel(name);
      if (!model) throw new CliError(`no registered model ${JSON.stringify(name)}; gflow list models shows them`, 1);
      const details = modelDetails(name, await versionRows(mlflow, [model]));
      console.log(opts.json ? JSON.stringify(details, null, 2) : modelDetailsText(details));
    });
}

/** `--customer` / `--task` through the fleet's query schema: a bad task exits 2 naming the flag, as `gflow metrics` does. */
function siteFilter(flags: { customer?: string; task?: string }): FleetFilter {
  try {
    return parseQuery(FilterQuery, flags, asFlag);
  } catch (err) {
    if (err instanceof QueryParamError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

async function versionRows(mlflow: MlflowClient, models: RegisteredModel[]): Promise<ModelVersionRow[]> {
  const versions = new Map(await Promise.all(models.map(async (m) => [m.name, await mlflow.searchModelVersions(`name=${filterLiteral(m.name)}`)] as const)));
  return modelVersionRows(models, (name) => versions.get(name) ?? []);
}
