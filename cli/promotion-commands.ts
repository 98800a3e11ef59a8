import os from 'node:os';
import type { Command } from 'commander';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { approveUpdate, REGISTRY_HISTORY_EXPERIMENT, rejectUpdate, type PromotionProgress } from '../common/contract';
import { promotionWorkflowId } from '../common/registry';
import type { Settings } from '../common/settings';
import { filterLiteral, mlflowClientFor, type Run } from '../activities/tracking/mlflow-client';
import { HistoryTag } from '../workflows/registry-move';
import { CliError } from './cli-error';
import { formatTable } from './table';
import { connect } from './temporal';

/** Who is at the keyboard, for the records of an approval or a move made by hand. */
export function currentUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/** `version` as the registry spells it: `3` and `v3` both mean version 3. */
function versionNumber(version: string): string {
  const n = version.replace(/^v/i, '');
  if (!/^[1-9]\d*$/.test(n)) throw new CliError(`version: expected a version number such as 3 or v3, got ${JSON.stringify(version)}`, 2);
  return n;
}

/** One line of a promotion's state, for approve/reject and `gflow status`. */
export function promotionLines(p: PromotionProgress): string[] {
  return [
    `  gate:     ${p.gate}`,
    ...(p.approvalDeadline ? [`  approval: ${p.verdict ? `${p.verdict.approved ? 'approved' : 'rejected'} by ${p.verdict.by}${p.verdict.reason ? ` (${p.verdict.reason})` : ''}` : `waiting until ${p.approvalDeadline}`}`] : []),
    ...(p.soakUntil ? [`  soak:     until ${p.soakUntil}${p.soakSeen ? `; seen ${Object.entries(p.soakSeen).map(([k, v]) => `${k}=${v ?? '-'}`).join(' ')}` : ''}`] : []),
    ...(p.reason ? [`  reason:   ${p.reason}`] : []),
  ];
}

/** `gflow approve|reject <model> <version>` and `gflow history <model>`. */
export function registerPromotionCommands(program: Command, settings: Settings): void {
  const verdict = (approve: boolean) => async (model: string, version: string, opts: { reason?: string; by?: string }) => {
    const id = promotionWorkflowId(model, versionNumber(version));
    const { client, close } = await connect(settings);
    try {
      const progress = await client.workflow
        .getHandle(id)
        .executeUpdate(approve ? approveUpdate : rejectUpdate, { args: [{ by: opts.by ?? currentUser(), ...(opts.reason && { reason: opts.reason }) }] })
        .catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no guarded promotion of ${model} v${versionNumber(version)} (${id}) is running`, 1, { cause: err });
          if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${model} v${versionNumber(version)}: ${err.cause?.message ?? err.message}`, 1, { cause: err });
          throw err;
        });
      console.log(`${approve ? 'approved' : 'rejected'} ${model} v${progress.version} (${id})`);
      for (const line of promotionLines(progress)) console.log(line);
    } finally {
      await close();
    }
  };

  program
    .command('approve <model> <version>')
    .description('approve a guarded promotion waiting for approval: the version becomes champion (then soaks, if its rule says so)')
    .option('--reason <text>', 'why, recorded on the version and in the alias history')
    .option('--by <name>', 'who approves (default: the current user)')
    .action(verdict(true));

  program
    .command('reject <model> <version>')
    .description('reject a guarded promotion waiting for approval: the version stays candidate')
    .option('--reason <text>', 'why, recorded on the version')
    .option('--by <name>', 'who rejects (default: the current user)')
    .action(verdict(false));

  program
    .command('history <model>')
    .description('every move of the model’s aliases: when, what, by which workflow or person, why')
    .option('--json', 'the moves as JSON')
    .action(async (model: string, opts: { json?: boolean }) => {
      const mlflow = mlflowClientFor(settings);
      const experiment = await mlflow.getExperimentByName(REGISTRY_HISTORY_EXPERIMENT);
      const runs = experiment ? await mlflow.searchRuns({ experimentIds: [experiment.experiment_id], filter: `tags.\`${HistoryTag.model}\` = ${filterLiteral(model)}`, orderBy: ['attributes.start_time ASC'] }) : [];
      const moves = runs.map(aliasMove);
      if (opts.json) {
        console.log(JSON.stringify(moves, null, 2));
        return;
      }
      if (moves.length === 0) {
        console.log(`no alias moves recorded for ${model}`);
        return;
      }
      console.log(
        formatTable(
          [{ header: 'when' }, { header: 'op' }, { header: 'aliases' }, { header: 'status' }, { header: 'by' }, { header: 'why' }],
          moves.map((m) => [m.at, m.op, aliasChanges(m.before, m.after), m.status, m.by, m.reason]),
        ),
      );
    });
}

interface AliasMoveRecord {
  at: string;
  op: string;
  before: Record<string, string>;
  after: Record<string, string>;
  by: string;
  reason: string;
  /** FINISHED: applied; FAILED: the move was refused or failed half-way and was not applied; RUNNING: in progress. */
  status: string;
  workflowId: string;
}

function aliasMove(run: Run): AliasMoveRecord {
  const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
  return {
    at: run.info.start_time === undefined ? '?' : new Date(run.info.start_time).toISOString(),
    op: tags[HistoryTag.op] ?? '?',
    before: JSON.parse(tags[HistoryTag.before] ?? '{}') as Record<string, string>,
    after: JSON.parse(tags[HistoryTag.after] ?? '{}') as Record<string, string>,
    by: tags[HistoryTag.by] ?? '?',
    reason: tags[HistoryTag.reason] ?? '',
    status: run.info.status,
    workflowId: tags['gf.workflow_id'] ?? '',
  };
}

/** `champion v2→v3, rollback →v2, candidate v3→-`: each alias that changed. */
function aliasChanges(before: Record<string, string>, after: Record<string, string>): string {
  const aliases = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const show = (v: string | undefined) => (v === undefined ? '-' : `v${v}`);
  return aliases
    .filter((a) => before[a] !== after[a])
    .map((a) => `${a} ${show(before[a])}→${show(after[a])}`)
    .join(', ');
}
