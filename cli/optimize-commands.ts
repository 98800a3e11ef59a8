import path from 'node:path';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptionsAction } from '@temporalio/client';
import type { Priority } from '@temporalio/common';
import type { Command } from 'commander';
import { mlflowClientFor } from '../activities/tracking/mlflow-client';
import { CONTROL_QUEUE, OPTIMIZER_SCHEDULE_ID, WorkflowType } from '../common/contract';
import type { Settings } from '../common/settings';
import { optimizerMetadata, type UiLinks } from '../common/workflow-metadata';
import { readOptimizerState } from '../activities/fleet/activities';
import { decide, type RuleDecision } from '../optimizer/decide';
import { loadPolicyFile, PolicyFileError } from '../optimizer/policy-loader';
import { DurationSchema, durationMs, type OptimizerPolicy } from '../optimizer/policy-schema';
import { OPTIMIZER_CHECK_PRIORITY } from '../scenarios/pool-policy';
import type { OptimizerInput } from '../workflows/optimizer';
import { CliError } from './cli-error';
import { uiLinks } from './links';
import { snapshotOf } from './metrics-commands';
import { formatTable } from './table';
import { connect } from './temporal';

/**
 * `gflow optimize check`: one optimizer check decided now, over the fleet store, with the
 * cooldowns and in-flight actions the scheduled workflow would read back, printed; nothing starts.
 * `gflow optimize schedule|pause|resume|trigger|list`: the Temporal Schedule `gf-optimizer` that
 * starts the `optimizer` workflow, through the schedule's own operations (so `temporal schedule
 * describe|trigger --schedule-id gf-optimizer` see and do the same).
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
      const now = Date.now();
      const snapshot = await snapshotOf(settings, opts.full);
      const state = await withClient(settings, (temporal) => readOptimizerState({ mlflow: mlflowClientFor(settings), temporal }, policy, now));
      const decisions = decide(snapshot, policy, state, now);
      if (opts.json) return console.log(JSON.stringify({ policy: opts.policy, dryRun: policy.dry_run, maxConcurrent: policy.max_concurrent, state, decisions }, null, 2));
      console.log(decisions.length === 0 ? 'no site task in any rule’s scope' : `${decisionTable(decisions)}\n${decisions.length} decisions`);
      console.log(`policy: ${opts.policy} (max_concurrent ${policy.max_concurrent}${policy.dry_run ? ', dry_run: the workflow would start nothing' : ''}); nothing was started`);
    });

  optimize
    .command('schedule')
    .description(`create or update the Temporal Schedule ${OPTIMIZER_SCHEDULE_ID}: one optimizer check per interval, never two at once`)
    .option('--every <duration>', "the interval, e.g. 30m, 6h, 1d (default: the policy's schedule.every)")
    .option('--policy <file>', 'the optimizer policy, read by the control worker at every check', POLICY_FILE)
    .action(async (opts: { every?: string; policy: string }) => {
      const policy = await policyFrom(opts.policy);
      const every = opts.every ?? policy.schedule.every;
      const checked = DurationSchema.safeParse(every);
      if (!checked.success) throw new CliError(`--every: ${checked.error.issues[0].message}`, 2);
      const policyFile = path.resolve(opts.policy);
      const verb = await withClient(settings, (client) => upsertSchedule(client, { every, policyFile, links: uiLinks(settings) }));
      console.log(`schedule ${OPTIMIZER_SCHEDULE_ID} ${verb}: a check every ${every} with ${policyFile} (overlap: skip)`);
      console.log(`see it with: gflow optimize list, or temporal schedule describe --schedule-id ${OPTIMIZER_SCHEDULE_ID}`);
    });

  optimize
    .command('pause')
    .description('stop scheduled checks until resumed (a running check finishes)')
    .option('--note <text>', 'why, shown by temporal schedule describe', 'paused with gflow optimize pause')
    .action(async (opts: { note: string }) => {
      await onSchedule(settings, (handle) => handle.pause(opts.note));
      console.log(`schedule ${OPTIMIZER_SCHEDULE_ID} paused`);
    });

  optimize
    .command('resume')
    .description('start scheduled checks again')
    .option('--note <text>', 'why, shown by temporal schedule describe', 'resumed with gflow optimize resume')
    .action(async (opts: { note: string }) => {
      await onSchedule(settings, (handle) => handle.unpause(opts.note));
      console.log(`schedule ${OPTIMIZER_SCHEDULE_ID} resumed`);
    });

  optimize
    .command('trigger')
    .description('run one check now (skipped if a check is running: the schedule never runs two)')
    .action(async () => {
      await onSchedule(settings, (handle) => handle.trigger(ScheduleOverlapPolicy.SKIP));
      console.log(`schedule ${OPTIMIZER_SCHEDULE_ID} triggered (a check already running makes this one skip)`);
    });

  optimize
    .command('delete')
    .description('remove the schedule: no more checks (running checks and actions go on; cooldowns stay recorded in MLflow)')
    .action(async () => {
      await onSchedule(settings, (handle) => handle.delete());
      console.log(`schedule ${OPTIMIZER_SCHEDULE_ID} deleted; create it again with: gflow optimize schedule --every 6h`);
    });

  optimize
    .command('list')
    .description("the optimizer's schedules: state, interval, policy, last and next check")
    .action(async () => {
      const schedules = await withClient(settings, async (client) => {
        const found: ScheduleDescription[] = [];
        // the summary lacks the action's input (the policy file): each schedule is described
        for await (const s of client.schedule.list()) if (s.action?.workflowType === WorkflowType.optimizer) found.push(await client.schedule.getHandle(s.scheduleId).describe());
        return found;
      });
      if (schedules.length === 0) return console.log('no optimizer schedule; create one with: gflow optimize schedule --every 6h');
      console.log(scheduleTable(schedules));
    });
}

/** `create` or `update` (keeping its paused state and history): the schedule as `gflow optimize schedule` sets it. */
export async function upsertSchedule(client: Client, opts: { every: string; policyFile: string; scheduleId?: string; links?: UiLinks }): Promise<'created' | 'updated'> {
  const scheduleId = opts.scheduleId ?? OPTIMIZER_SCHEDULE_ID;
  const input: OptimizerInput = { policyFile: opts.policyFile, ...(opts.links && { links: opts.links }) };
  // the client compiles an action's `priority` (SDK 1.24) though its options type leaves it out
  const action: ScheduleOptionsAction & { priority: Priority } = {
    type: 'startWorkflow',
    workflowType: WorkflowType.optimizer,
    workflowId: `${scheduleId}-check`,
    taskQueue: CONTROL_QUEUE,
    args: [input],
    priority: OPTIMIZER_CHECK_PRIORITY,
    // every check the schedule starts carries them, so the Web UI says what each one is
    ...optimizerMetadata({ policyFile: opts.policyFile, every: opts.every }),
  };
  const spec = { intervals: [{ every: durationMs(opts.every) }] };
  // SKIP: a check due while one runs is dropped, never queued; a worker down longer than one interval takes one missed check, not a backlog
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.max(durationMs(opts.every), MIN_CATCHUP_MS) };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies }));
  return 'updated';
}

/** Temporal refuses a catch-up window under 10 s; a short test interval gets a minute. */
const MIN_CATCHUP_MS = 60_000;

async function withClient<T>(settings: Settings, fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await connect(settings);
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

/** An operation on the optimizer's schedule; a missing one is the user's to create. */
function onSchedule(settings: Settings, op: (handle: ReturnType<Client['schedule']['getHandle']>) => Promise<void>): Promise<void> {
  return withClient(settings, async (client) => {
    try {
      await op(client.schedule.getHandle(OPTIMIZER_SCHEDULE_ID));
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule ${OPTIMIZER_SCHEDULE_ID}; create it with: gflow optimize schedule --every 6h`, 1, { cause: err });
      throw err;
    }
  });
}

function scheduleTable(schedules: ScheduleDescription[]): string {
  return formatTable(
    [{ header: 'schedule' }, { header: 'state' }, { header: 'every' }, { header: 'policy' }, { header: 'last check' }, { header: 'next check' }],
    schedules.map((s) => {
      const last = s.info.recentActions.at(-1);
      const every = s.spec.intervals?.[0]?.every;
      const input = s.action.type === 'startWorkflow' ? (s.action.args?.[0] as Partial<OptimizerInput> | undefined) : undefined;
      return [
        s.scheduleId,
        s.state.paused ? 'paused' : 'active',
        typeof every === 'number' ? durationText(every) : '-',
        input?.policyFile ?? '-',
        last ? `${last.takenAt.toISOString()} ${last.action.workflow.workflowId}` : '-',
        s.info.nextActionTimes[0]?.toISOString() ?? '-',
      ];
    }),
  );
}

/** 21600000 → `6h`: the largest unit that divides the interval (as `--every` takes it). */
function durationText(ms: number): string {
  const units: [string, number][] = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const [unit, size] = units.find(([, size]) => ms % size === 0) ?? ['ms', 1];
  return `${ms / size}${unit}`;
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
