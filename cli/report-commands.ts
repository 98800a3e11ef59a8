import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ChartRenderError, chartCacheDir, renderChart } from '../activities/reports/chart';
import type { Settings } from '../common/settings';
import { CliError } from './cli-error';
import { collectGpuJobs } from './gpu-jobs';
import { slotUtilisation, type Utilisation } from './slot-utilisation';
import { connect } from './temporal';

const seconds = (x: number | null) => (x === null ? '–' : `${x.toFixed(2)} s`);

/** The totals a user reads first, then one line per slot. */
export function utilisationText(workflowId: string, { slots, totals }: Utilisation): string[] {
  return [
    `GPU slots of ${workflowId}: ${totals.jobs} jobs on ${totals.slots} slot(s) of ${totals.hosts} host(s), makespan ${seconds(totals.makespan_s)}`,
    `  busy ${totals.busy_pct.toFixed(1)} % (${seconds(totals.busy_s)} of GPU time); idle gap between jobs p50 ${seconds(totals.idle_gap_p50_s)}, p95 ${seconds(totals.idle_gap_p95_s)} (${totals.idle_gaps} gaps)`,
    `  ${'slot'.padEnd(32)} ${'jobs'.padStart(6)} ${'busy'.padStart(11)} ${'busy %'.padStart(7)}`,
    ...slots.map((s) => `  ${`${s.host} #${s.slot}`.padEnd(32)} ${String(s.jobs.length).padStart(6)} ${seconds(s.busy_s).padStart(11)} ${s.busy_pct.toFixed(1).padStart(7)}`),
  ];
}

/** A file name from a workflow id (`gf/sweep/a/b` → `utilisation-gf_sweep_a_b.png`). */
export function defaultChartFile(workflowId: string): string {
  return `utilisation-${workflowId.replace(/[^\w.-]+/g, '_')}.png`;
}

/** `gflow report utilisation`: how busy a sweep kept its GPU slots, from the recorded start and end of every GPU job. */
export function registerReportCommands(program: Command, settings: Settings): void {
  const report = program.command('report').description('reports on finished or running workflows');

  report
    .command('utilisation <workflowId>')
    .description("each GPU slot's busy/idle timeline (PNG) and totals of a sweep (or any workflow), from the GPU jobs' recorded start and end times")
    .option('-o, --out <file.png>', 'where to write the chart (default: utilisation-<workflow id>.png here)')
    .action(async (workflowId: string, opts: { out?: string }) => {
      const out = path.resolve(opts.out ?? defaultChartFile(workflowId));
      if (!existsSync(path.dirname(out))) throw new CliError(`--out: folder ${path.dirname(out)} does not exist`, 2);
      const { client, close } = await connect(settings);
      let jobs;
      try {
        jobs = await collectGpuJobs(client, workflowId);
      } finally {
        await close();
      }
      if (jobs.length === 0) throw new CliError(`${workflowId} has no GPU job that started yet: nothing to report`, 1);
      const utilisation = slotUtilisation(jobs);
      const lanes = utilisation.slots.map((s) => ({ label: `${s.host} #${s.slot}`, jobs: s.jobs }));
      await renderChart(settings.python, { kind: 'timeline', title: `GPU slots of ${workflowId}`, lanes }, out, chartCacheDir(settings.stateDir)).catch((err: unknown) => {
        if (err instanceof ChartRenderError) throw new CliError(err.message, 1, { cause: err });
        throw err;
      });
      for (const line of utilisationText(workflowId, utilisation)) console.log(line);
      console.log(`  chart: ${out}`);
    });
}
