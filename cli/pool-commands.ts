import type { Command } from 'commander';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { DrainMode, drainHostUpdate, effectiveHostState, hostQuery, HostState, hostWorkflowId, type HostRecord } from '../common/hosts';
import type { Settings } from '../common/settings';
import { CliError } from './cli-error';
import { hostRecords, readPool } from './pool';
import { priorityName, whyWaiting, type PoolView } from './pool-view';
import { formatTable } from './table';
import { connect } from './temporal';

/** "12s ago" from an ISO time. */
function ago(isoTime: string | undefined, now: number): string {
  if (!isoTime) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(isoTime)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

const hostStateText = (state: HostState, drain?: DrainMode) => (state === HostState.draining && drain === DrainMode.now ? 'draining (now)' : state);

/** The pool as text: hosts and their jobs, what waits by priority and customer, what sweeps hold back. */
export function poolLines(view: PoolView, now = Date.now()): string[] {
  const lines = [`pool ${view.pool} (queue ${view.queue}): ${view.slots.busy}/${view.slots.total} slot(s) busy on active hosts, ${view.waiting.length} job(s) waiting`];
  const hostRows = view.hosts.map((h) => [h.hostId, hostStateText(h.state, h.drain), h.slots === undefined ? '?' : String(h.slots), (h.devices ?? []).map((d) => (d.index === 'cpu' ? 'cpu' : `${d.index} ${d.name}`)).join(', '), String(h.running.length), ago(h.lastSeen, now)]);
  lines.push('', formatTable([{ header: 'HOST' }, { header: 'STATE' }, { header: 'SLOTS', right: true }, { header: 'DEVICES' }, { header: 'RUNNING', right: true }, { header: 'LAST SEEN' }], hostRows));
  const running = view.hosts.flatMap((h) => h.running.map((j) => [h.hostId, j.site ?? '-', j.workflowId, j.activity, priorityName(j.priority), j.since]));
  if (running.length > 0) lines.push('', formatTable([{ header: 'HOST' }, { header: 'SITE' }, { header: 'WORKFLOW' }, { header: 'JOB' }, { header: 'PRIORITY' }, { header: 'SINCE' }], running));
  if (view.waitingBy.length > 0) lines.push('', formatTable([{ header: 'WAITING' }, { header: 'PRIORITY' }, { header: 'CUSTOMER (FAIRNESS KEY)' }], view.waitingBy.map((g) => [String(g.jobs), g.priorityName, g.fairnessKey ?? '-'])));
  const held = view.held.filter((h) => h.queued > 0);
  if (held.length > 0) lines.push('', 'held back by their sweep’s parallel limit:', ...held.map((h) => `  ${h.workflowId}: ${h.queued} trial(s) (${h.running} running)`));
  if (view.backlog) lines.push('', `Temporal backlog of ${view.queue}: ${view.backlog.tasks} task(s), oldest ${view.backlog.ageSeconds}s`);
  return lines;
}

function hostRows(records: HostRecord[], now: number): string[][] {
  return records.map((r) => [r.hostId, hostStateText(effectiveHostState(r, now), r.drain), r.slots === undefined ? '?' : String(r.slots), r.identity ?? '-', ago(r.lastSeen, now), r.drainRequestedAt ?? '-']);
}

/** `gflow pool`, `gflow host list`, `gflow host drain`: the GPU pool seen and operated from any machine that reaches Temporal. */
export function registerPoolCommands(program: Command, settings: Settings): void {
  const poolOption = `the GPU pool (GF_GPU_POOL, now ${settings.gpu.pool})`;
  program
    .command('pool [workflowId]')
    .description('the GPU pool: hosts, their slots and devices, what runs where, what waits by priority and customer; with a workflow id, why it waits')
    .option('--pool <name>', poolOption)
    .option('--json', 'the view as JSON (with a workflow id: its `why` lines added)')
    .action(async (id: string | undefined, opts: { pool?: string; json?: boolean }) => {
      const { client, close } = await connect(settings);
      try {
        const view = await readPool(client, opts.pool ?? settings.gpu.pool);
        const why = id === undefined ? undefined : whyWaiting(view, id);
        if (opts.json) return console.log(JSON.stringify(id === undefined ? view : { ...view, workflowId: id, why }, null, 2));
        if (why === undefined) return console.log(poolLines(view).join('\n'));
        console.log(why.length > 0 ? why.join('\n') : `${id}: none of its GPU jobs waits (gflow status '${id}')`);
      } finally {
        await close();
      }
    });

  const host = program.command('host').description('the GPU hosts of a pool: their state, and draining one for maintenance');
  host
    .command('list')
    .description('each host: active / draining / gone, its slots, worker, last seen')
    .option('--pool <name>', poolOption)
    .option('--json', 'the host records as JSON, each with its state as shown')
    .action(async (opts: { pool?: string; json?: boolean }) => {
      const { client, close } = await connect(settings);
      try {
        const now = Date.now();
        const records = await hostRecords(client, opts.pool ?? settings.gpu.pool);
        if (opts.json) return console.log(JSON.stringify(records.map((r) => ({ ...r, state: effectiveHostState(r, now) })), null, 2));
        if (records.length === 0) return console.log(`no GPU host has checked in to pool ${opts.pool ?? settings.gpu.pool}`);
        console.log(formatTable([{ header: 'HOST' }, { header: 'STATE' }, { header: 'SLOTS', right: true }, { header: 'WORKER' }, { header: 'LAST SEEN' }, { header: 'DRAIN ASKED' }], hostRows(records, now)));
      } finally {
        await close();
      }
    });
  host
    .command('drain <host>')
    .description('the host takes no new job, lets running ones finish, then its worker stops; --now hands running trainings back (they resume on another host from their last uploaded checkpoint)')
    .option('--pool <name>', poolOption)
    .option('--now', 'hand running jobs back at once instead of letting them finish')
    .option('--wait', 'wait until the host has drained and its worker stopped')
    .action(async (hostId: string, opts: { pool?: string; now?: boolean; wait?: boolean }) => {
      const pool = opts.pool ?? settings.gpu.pool;
      const { client, close } = await connect(settings);
      try {
        const handle = client.workflow.getHandle(hostWorkflowId(pool, hostId));
        const record = await handle.executeUpdate(drainHostUpdate, { args: [opts.now ? DrainMode.now : DrainMode.graceful] }).catch((err: unknown) => {
          if (err instanceof WorkflowNotFoundError) throw new CliError(`no host ${hostId} in pool ${pool} (see: gflow host list)`, 1, { cause: err });
          if (err instanceof WorkflowUpdateFailedError) throw new CliError(err.cause?.message ?? err.message, 1, { cause: err });
          throw err;
        });
        console.log(`host ${hostId}: draining${record.drain === DrainMode.now ? ' at once: running jobs go back to the pool' : ': no new jobs; running ones finish'} (asked ${record.drainRequestedAt})`);
        if (!opts.wait) return;
        for (;;) {
          const now = await handle.query(hostQuery).catch(() => undefined);
          if (now && effectiveHostState(now, Date.now()) === HostState.gone) break;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
        console.log(`host ${hostId}: drained, its worker stopped`);
      } finally {
        await close();
      }
    });
}
