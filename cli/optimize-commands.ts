import type { Command } from 'commander';
import { MlflowClient, MlflowUnreachableError } from '../activities/tracking/mlflow-client';
import type { Settings } from '../common/settings';
import { openFleetStore, type FleetSnapshot } from '../fleet';
import { decide, NO_STATE, type RuleDecision } from '../optimizer/decide';
import { loadPolicyFile, PolicyFileError } from '../optimizer/policy-loader';
import type { OptimizerPolicy } from '../optimizer/policy-schema';
import { CliError } from './cli-error';
import { formatTable } from './table';

/**
 * `gflow optimize check`: one optimizer check decided now, over the fleet store, with no
 * cooldowns and nothing in flight (the scheduled workflow keeps those), printed; nothing starts.
 */

/** The default policy file, looked for in the current directory. */
const POLICY_FILE = 'optimizer.yaml';

export function registerOptimizeCommands(program: Command, settings: Settings): void {
  const optimize = program.command('optimize').description('the auto-optimizer: rules over fleet metrics that start retrains and quantizations');

  optimize
    .command('check')
    .description('show what one optimizer check would decide now (a dry run: starts nothing)')
    .option('--policy <file>', `the optimizer policy`, POLICY_FILE)
    .option('--json', 'print JSON for scripts instead of a table')
    .option('--full', 'read everything from MLflow again instead of only what changed')
    .action(async (opts: { policy: string; json?: boolean; full?: boolean }) => {
      const policy = await policyFrom(opts.policy);
      const decisions = decide(await snapshotOf(settings, opts.full), policy, NO_STATE, Date.now());
      if (opts.json) return console.log(JSON.stringify({ policy: opts.policy, dryRun: policy.dry_run, maxConcurrent: policy.max_concurrent, decisions }, null, 2));
      console.log(decisions.length === 0 ? 'no site task in any rule’s scope' : `${decisionTable(decisions)}\n${decisions.length} decisions`);
      console.log(`policy: ${opts.policy} (max_concurrent ${policy.max_concurrent}${policy.dry_run ? ', dry_run: the workflow would start nothing' : ''}); nothing was started`);
    });
}

/** rule, site, task, metric, value, threshold, decision, action id: one row per decision. */
export function decisionTable(decisions: RuleDecision[]): string {
  return formatTable(
    [{ header: 'rule' }, { header: 'site' }, { header: 'task' }, { header: 'metric' }, { header: 'value', right: true }, { header: 'threshold', right: true }, { header: 'decision' }, { header: 'action id' }],
    decisions.map((d) => [d.rule, d.siteKey, d.task, d.metric, d.value === null ? '-' : String(Number(d.value.toFixed(4))), `${d.comparison} ${d.threshold}`, d.decision, d.workflowId ?? '-']),
  );
}

async function policyFrom(file: string): Promise<OptimizerPolicy> {
  try {
    return await loadPolicyFile(file);
  } catch (err) {
    if (err instanceof PolicyFileError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

/** A refreshed snapshot; an unreachable MLflow is a user-facing error (as in `gflow metrics`). */
async function snapshotOf(settings: Settings, full = false): Promise<FleetSnapshot> {
  const store = openFleetStore(settings, new MlflowClient(settings.mlflow.url));
  try {
    return (await store.refresh({ full })).snapshot;
  } catch (err) {
    if (err instanceof MlflowUnreachableError) throw new CliError(`${err.message}; is the stack up? (gflow dev up, or set MLFLOW_TRACKING_URI)`, 1, { cause: err });
    throw err;
  }
}
