import { Command } from 'commander';
import { Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { CONTROL_QUEUE, PipelinePhase, progressQuery, type SingleRunProgress } from '../common/contract';
import { loadSettings, type Settings } from '../common/settings';
import { loadScenarioFile, ScenarioFileError } from '../scenarios/loader';
import { experimentName, registeredModelName, runName, workflowId } from '../scenarios/naming';
import type { pipeline, PipelineResult } from '../workflows/pipeline';
import type { singleRun, SingleRunResult } from '../workflows/single-run';
import { CliError } from './cli-error';
import { registerDevCommands } from './dev-commands';
import { registerRegistryCommands } from './registry-commands';
import { applicationFailureOf, connect } from './temporal';
import { metricSummary, ProgressView } from './progress-view';
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

/** The progress to show: a pipeline's, or while it trains or quantizes, that stage's own. */
async function currentProgress(client: Client, id: string): Promise<SingleRunProgress> {
  const progress = await client.workflow.getHandle(id).query(progressQuery);
  const stage = progress.phase === PipelinePhase.training ? 'train' : progress.phase === PipelinePhase.quantizing ? 'quant' : undefined;
  const isPipeline = 'trainRunId' in progress || id.startsWith(`gf/pipeline/`);
  if (!isPipeline || !stage) return progress;
  const child = await client.workflow.getHandle(`${id}/${stage}`).query(progressQuery).catch(() => undefined);
  return child ? { ...child, phase: `${stage}: ${child.phase}` as SingleRunProgress['phase'] } : progress;
}

async function waitAndReport(client: Client, settings: Settings, id: string): Promise<void> {
  const handle = client.workflow.getHandle<typeof singleRun | typeof pipeline>(id);
  const view = new ProgressView();
  const poll = setInterval(() => {
    currentProgress(client, id).then(
      (p) => view.update(p),
      () => undefined,
    );
  }, 1000);
  try {
    const result = await handle.result();
    view.stop();
    if ('trained' in result) printPipelineResult(settings, id, result);
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
      const scenario = await loadOrExplain(file, opts.checkFiles);
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
    });

  program
    .command('status <workflowId>')
    .description("show a workflow's progress")
    .action(async (id: string) => {
      const { client, close } = await connect(settings);
      try {
        const handle = client.workflow.getHandle(id);
        const description = await handle.describe();
        const p = await handle.query(progressQuery);
        console.log(`${id}: ${description.status.name} (phase ${p.phase})`);
        if (p.training) console.log(`  epoch ${p.training.epoch}/${p.training.epochs} ${metricSummary(p.training.metrics)}`);
        if (p.runId && p.experimentId) console.log(`  MLflow:   ${mlflowRunUrl(settings, p.experimentId, p.runId)}`);
        if (p.model) console.log(`  model:    ${p.model.name}@${p.model.alias} (version ${p.model.version})`);
        if (p.error) console.log(`  error:    ${p.error}`);
        console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
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
