import { Command } from 'commander';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { CONTROL_QUEUE, PipelinePhase, pauseSignal, progressQuery, resumeSignal, setMaxRunsUpdate, type BatchProgress, type SingleRunProgress } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { loadScenarioFile, ScenarioFileError } from '../scenarios/loader';
import { experimentName, registeredModelName, runName, workflowId } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';
import type { ComparisonResult } from '../workflows/comparison';
import type { pipeline, PipelineResult } from '../workflows/pipeline';
import type { SweepResult } from '../workflows/sweep';
import type { singleRun, SingleRunResult } from '../workflows/single-run';
import { CliError } from './cli-error';
import { registerDevCommands } from './dev-commands';
import { registerRegistryCommands } from './registry-commands';
import { applicationFailureOf, connect } from './temporal';
import { batchSummary, metricSummary, ProgressView, textBar } from './progress-view';
import { comparePatch, FlagError, sweepPatch, withDesign, type CompareFlags, type SweepFlags } from './scenario-overrides';
import { startScenario, UnsupportedScenarioError, workflowFor } from './start-run';
import { mlflowRunUrl, mlflowModelUrl, temporalWorkflowUrl } from './links';

async function loadOrExplain(file: string, checkFiles: boolean) {
  try {
    const { scenario } = await loadScenarioFile(file, { checkFiles });
    workflowFor(scenario);
    return scenario;
  } catch (err) {
    if (err instanceof ScenarioFileError || err instanceof UnsupportedScenarioError) throw new CliError(err.message, 2, { cause: err });
    throw err;
  }
}

/** The progress to show: a pipeline's, or while it trains or quantizes, that stage's own; a sweep's or comparison's trials. */
async function currentProgress(client: Client, id: string): Promise<SingleRunProgress | BatchProgress> {
  const progress = await client.workflow.getHandle(id).query<SingleRunProgress | BatchProgress>('progress');
  if ('total' in progress) return progress;
  const stage = progress.phase === PipelinePhase.training ? 'train' : progress.phase === PipelinePhase.quantizing ? 'quant' : undefined;
  const isPipeline = 'trainRunId' in progress || id.startsWith(`gf/pipeline/`);
  if (!isPipeline || !stage) return progress;
  const child = await client.workflow.getHandle(`${id}/${stage}`).query(progressQuery).catch(() => undefined);
  return child ? { ...child, phase: `${stage}: ${child.phase}` as SingleRunProgress['phase'] } : progress;
}

async function waitAndReport(client: Client, settings: Settings, id: string): Promise<void> {
  const handle = client.workflow.getHandle(id);
  const view = new ProgressView();
  const poll = setInterval(() => {
    currentProgress(client, id).then(
      (p) => view.update(p),
      () => undefined,
    );
  }, 1000);
  try {
    const result = (await handle.result()) as Awaited<ReturnType<typeof singleRun | typeof pipeline>> | SweepResult | ComparisonResult;
    view.stop();
    if ('trained' in result) printPipelineResult(settings, id, result);
    else if ('total' in result) printSweepResult(settings, id, result);
    else if ('rows' in result) printComparisonResult(settings, id, result);
    else printResult(settings, id, result);
  } catch (err) {
    view.stop();
    if (err instanceof WorkflowFailedError) {
      const failure = applicationFailureOf(err);
      const reason = failure ? `${failure.type ?? 'Error'}: ${failure.message}` : (err.cause?.message ?? err.message);
      throw new CliError(`workflow ${id} failed: ${reason}\n  Temporal: ${temporalWorkflowUrl(settings, id)}`, 1, { cause: err });
    }
    throw err;
  } finally {
    clearInterval(poll);
  }
}

function printResult(settings: Settings, id: string, r: SingleRunResult, indent = ''): void {
  console.log(`${indent}run ${r.runName} finished`);
  console.log(`${indent}  run id:  ${r.runId}`);
  console.log(`${indent}  metrics: ${metricSummary(r.metrics)}`);
  if (r.model) console.log(`${indent}  model:   ${r.model.name}@${r.model.alias} (version ${r.model.version})`);
  for (const v of r.variants ?? []) {
    console.log(`${indent}  variant ${v.variant.backend}/${v.variant.precision}: run ${v.runId} ${metricSummary(v.metrics)}`);
    console.log(`${indent}    model: ${v.model.name}@${v.model.alias} (version ${v.model.version})`);
  }
  console.log(`${indent}  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  if (r.model) console.log(`${indent}  registry: ${mlflowModelUrl(settings, r.model.name, r.model.version)}`);
  console.log(`${indent}  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

function printPipelineResult(settings: Settings, id: string, r: PipelineResult): void {
  console.log(`pipeline ${r.runName} finished`);
  console.log(`  run id:   ${r.runId}`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
  printResult(settings, `${id}/train`, r.trained, '  ');
  printResult(settings, `${id}/quant`, r.quantized, '  ');
  console.log('  promotion gate:');
  for (const d of r.decisions) console.log(`    ${d.promote ? 'promoted' : 'kept    '} ${d.model} v${d.version}: ${d.reason}`);
}

function printSweepResult(settings: Settings, id: string, r: SweepResult): void {
  console.log(`sweep ${r.runName} finished: ${r.done} done, ${r.failed} failed, ${r.stopped} stopped early of ${r.total}`);
  console.log(`  run id:   ${r.runId}`);
  if (r.best) console.log(`  best:     trial ${r.best.index} run ${r.best.runId} value ${r.best.value.toFixed(4)} ${JSON.stringify(r.best.params)}`);
  if (r.model) console.log(`  model:    ${r.model.name}@${r.model.alias} (version ${r.model.version})`);
  if (r.stopped > 0) console.log(`  GPU time saved by early stopping: ${r.gpuSecondsSaved.toFixed(0)} s`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

function printComparisonResult(settings: Settings, id: string, r: ComparisonResult): void {
  console.log(`comparison ${r.runName} finished: ${r.rows} runs compared, ${r.failed} failed`);
  console.log(`  run id:   ${r.runId}`);
  if (r.best) console.log(`  best:     ${r.best.label} (run ${r.best.runId}) value ${r.best.value.toFixed(4)}`);
  console.log(`  MLflow:   ${mlflowRunUrl(settings, r.experimentId, r.runId)}`);
  console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
}

/** Starts a validated scenario's workflow (refusing a second start unless `rerun`) and maybe waits for it. */
async function launch(settings: Settings, scenario: Scenario, opts: { wait?: boolean; rerun?: boolean }): Promise<void> {
  const { client, close } = await connect(settings);
  try {
    const handle = await startScenario(client, scenario, { rerun: opts.rerun }).catch((err: unknown) => {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new CliError(`${workflowId(scenario)} already ran or is running; see: gflow status '${workflowId(scenario)}' (or pass --rerun)`, 1, { cause: err });
      }
      throw err;
    });
    console.log(`started ${handle.workflowId}\n  Temporal: ${temporalWorkflowUrl(settings, handle.workflowId)}`);
    if (opts.wait) await waitAndReport(client, settings, handle.workflowId);
  } finally {
    await close();
  }
}

/** A scenario file with a sweep's or comparison's flags applied; a bad flag exits 2 before anything starts. */
async function withFlags(file: string, checkFiles: boolean, apply: (s: Scenario) => Scenario): Promise<Scenario> {
  const scenario = await loadOrExplain(file, checkFiles);
  try {
    return apply(scenario);
  } catch (err) {
    if (err instanceof FlagError) throw new CliError(`${file}: ${err.message}`, 2, { cause: err });
    throw err;
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Builds the `gflow` command tree; exported so tests can drive it without a subprocess. */
export function buildProgram(settings = loadSettings()): Command {
  const program = new Command('gflow').description('GuardianFlow: durable, recorded YOLO experiments').showHelpAfterError();

  program
    .command('validate <scenario>')
    .description('check a scenario file and show the names it gets')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: { checkFiles: boolean }) => {
      const s = await loadOrExplain(file, opts.checkFiles);
      console.log(`${file}: valid`);
      console.log(`  experiment: ${experimentName(s)}\n  run:        ${runName(s)}\n  model:      ${registeredModelName(s)}\n  workflow:   ${workflowId(s)}`);
    });

  program
    .command('render <scenario>')
    .description('print the workflow input JSON, for `temporal workflow start --input-file`')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: { checkFiles: boolean }) => {
      const scenario = await loadOrExplain(file, opts.checkFiles);
      console.log(JSON.stringify({ scenario }, null, 2));
      console.error(`start it with: temporal workflow start --type ${workflowFor(scenario)} --task-queue ${CONTROL_QUEUE} --workflow-id '${workflowId(scenario)}' --input-file <this output>`);
    });

  program
    .command('run <scenario>')
    .description('validate a scenario and start its workflow')
    .option('-w, --wait', 'wait for the result, showing progress')
    .option('--rerun', 'start again even if this scenario already ran (a new MLflow run)')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: { wait?: boolean; rerun?: boolean; checkFiles: boolean }) => {
      await launch(settings, await loadOrExplain(file, opts.checkFiles), opts);
    });

  program
    .command('sweep <scenario>')
    .description('run a scenario as a hyper-parameter sweep; flags override its sweep: block')
    .option('-p, --param <name=[v1,v2]>', 'a parameter and its values (repeat for more)', collect)
    .option('--strategy <grid|random>', 'grid, or random in a seeded order')
    .option('--max-runs <n>', 'at most this many trials')
    .option('--parallel <n>', 'trials at once across the GPU pool')
    .option('--metric <key>', 'the metric that picks the best trial')
    .option('--minimize', 'lower is better')
    .option('--seed <n>', 'the random order')
    .option('--fail-fast', 'stop the sweep at the first failed trial')
    .option('-w, --wait', 'wait for the result, showing progress')
    .option('--rerun', 'start again even if this scenario already ran')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: SweepFlags & { wait?: boolean; rerun?: boolean; checkFiles: boolean }) => {
      await launch(settings, await withFlags(file, opts.checkFiles, (s) => withDesign(s, 'sweep', sweepPatch(opts))), opts);
    });

  program
    .command('compare <scenario>')
    .description('run a scenario as a comparison; flags override its comparison: block')
    .option('--architectures <a,b>', 'model configs to train (or benchmark) side by side')
    .option('--run-ids <id1,id2>', 'existing MLflow runs to compare (nothing runs)')
    .option('--quant-variants <onnx_fp32,openvino_int8>', 'quantized variants against the original')
    .option('--datasets <a.yaml,b.yaml>', 'datasets to benchmark the model on (cross-site)')
    .option('--models <m1,m2>', 'with --datasets: every model on every dataset')
    .option('--metric <key>', 'the metric that picks the best run')
    .option('--minimize', 'lower is better')
    .option('--parallel <n>', 'runs at once')
    .option('-w, --wait', 'wait for the result, showing progress')
    .option('--rerun', 'start again even if this scenario already ran')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: CompareFlags & { wait?: boolean; rerun?: boolean; checkFiles: boolean }) => {
      const patch = comparePatch(opts);
      await launch(settings, await withFlags(file, opts.checkFiles, (s) => withDesign(s, 'comparison', patch.fields, patch.kind)), opts);
    });

  program
    .command('status <workflowId>')
    .description("show a workflow's progress")
    .option('--watch', 'follow it until the workflow closes')
    .action(async (id: string, opts: { watch?: boolean }) => {
      const { client, close } = await connect(settings);
      try {
        const handle = client.workflow.getHandle(id);
        const description = await handle.describe();
        const p = await handle.query<SingleRunProgress | BatchProgress>('progress');
        console.log(`${id}: ${description.status.name} (phase ${p.phase})`);
        if ('total' in p) {
          const finished = p.done + p.failed + p.stopped;
          console.log(`  ${textBar(finished, p.total)} ${finished}/${p.total} trials; ${batchSummary(p)}`);
        }
        if ('training' in p && p.training) console.log(`  epoch ${p.training.epoch}/${p.training.epochs} ${metricSummary(p.training.metrics)}`);
        if (p.runId && p.experimentId) console.log(`  MLflow:   ${mlflowRunUrl(settings, p.experimentId, p.runId)}`);
        if ('model' in p && p.model) console.log(`  model:    ${p.model.name}@${p.model.alias} (version ${p.model.version})`);
        if (p.error) console.log(`  error:    ${p.error}`);
        console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
        if (opts.watch && description.status.name === 'RUNNING') await waitAndReport(client, settings, id);
      } finally {
        await close();
      }
    });

  program
    .command('pause <workflowId>')
    .description('a sweep or comparison starts no new trial; running ones finish')
    .action(async (id: string) => signal(settings, id, 'pause'));

  program
    .command('resume <workflowId>')
    .description('a paused sweep or comparison starts trials again')
    .action(async (id: string) => signal(settings, id, 'resume'));

  program
    .command('set-max-runs <workflowId> <n>')
    .description('raise the trial count of a running sweep')
    .action(async (id: string, n: string) => {
      const { client, close } = await connect(settings);
      try {
        const total = await client.workflow.getHandle(id).executeUpdate(setMaxRunsUpdate, { args: [Number(n)] });
        console.log(`${id}: max_runs ${n}, ${total} trials in all`);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw new CliError(`${id}: ${err.cause?.message ?? err.message}`, 1, { cause: err });
        throw err;
      } finally {
        await close();
      }
    });

  program
    .command('cancel <workflowId>')
    .description('cancel a workflow: its executors are killed and its MLflow runs end KILLED')
    .action(async (id: string) => {
      const { client, close } = await connect(settings);
      try {
        await client.workflow.getHandle(id).cancel();
        console.log(`cancellation requested for ${id}`);
      } finally {
        await close();
      }
    });

  registerRegistryCommands(program, settings);
  registerDevCommands(program, settings);
  return program;
}

async function signal(settings: Settings, id: string, which: 'pause' | 'resume'): Promise<void> {
  const { client, close } = await connect(settings);
  try {
    await client.workflow.getHandle(id).signal(which === 'pause' ? pauseSignal : resumeSignal);
    console.log(`${which} sent to ${id}`);
  } finally {
    await close();
  }
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof CliError) {
        console.error(`gflow: ${err.message}`);
        process.exit(err.exitCode);
      }
      console.error(err);
      process.exit(1);
    });
}
