import path from 'node:path';
import { Command } from 'commander';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { CONTROL_QUEUE, type BatchProgress, type LegacyRunProgress, type PromotionProgress, type SingleRunProgress } from '../common/contract';
import { loadSettings, SettingsError, type Settings } from '../common/settings';
import { checkScenarioFiles, loadScenarioFile, ScenarioFileError } from '../scenarios/loader';
import { experimentName, registeredModelName, runName, workflowId } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';
import { registerBatchCommands } from './batch-commands';
import { CliError } from './cli-error';
import { serverError } from './server-errors';
import { datasetManifestIssues, registerDataCommands } from './data-commands';
import { registerDevCommands } from './dev-commands';
import { benchmarkOptions, flagScenario, registerFlagCommands, siteAndDataOptions, trainOptions, type BuildFlags } from './flag-commands';
import { refuseWithFile } from './flag-scenario';
import { registerLegacyCommands, scriptOutputLines } from './legacy-commands';
import { registerMetricsCommands } from './metrics-commands';
import { registerOptimizeCommands } from './optimize-commands';
import { registerPoolCommands } from './pool-commands';
import { promotionLines, registerPromotionCommands } from './promotion-commands';
import { followToEnd } from './follow';
import { printResult, type ScenarioResult } from './result-report';
import { mlflowRunUrl, temporalWorkflowUrl, uiLinks } from './links';
import { batchSummary, metricSummary, settledTrials, textBar } from './progress-view';
import { registerRegistryCommands } from './registry-commands';
import { registerReportCommands } from './report-commands';
import { registerServeCommand } from './serve-command';
import { comparePatch, FlagError, sweepPatch, withDesign, withPriority, type CompareFlags, type SweepFlags } from './scenario-overrides';
import { cliPoolPolicy, startScenario, UnsupportedScenarioError, workflowFor } from './start-run';
import { sweepPlan } from './sweep-plan';
import { connect } from './temporal';
import { registerVersionCommands } from './version-commands';

interface LaunchFlags {
  wait?: boolean;
  rerun?: boolean;
  checkFiles: boolean;
  priority?: string;
}

/**
 * A scenario file with a command's flags applied, re-validated by the schema, then every path it
 * names checked, the flags' own included. Every problem (file, flag, a missing file, a design
 * with no workflow) exits 2 before Temporal is contacted.
 */
async function scenarioFrom(
  settings: Settings,
  file: string,
  checkFiles: boolean,
  override: (s: Scenario) => Scenario = (s) => s,
  // a flag-built scenario (gflow train …) comes from its flags; `file` then only names where it came from
  load = async () => (await loadScenarioFile(file, { checkFiles: false })).scenario,
): Promise<Scenario> {
  try {
    const scenario = override(await load());
    if (checkFiles) await checkScenarioFiles(scenario, file);
    // an s3:// dataset is there when its manifest is (gflow data push writes it last)
    const missing = checkFiles ? await datasetManifestIssues(settings, scenario) : [];
    if (missing.length > 0) throw new ScenarioFileError(file, missing);
    workflowFor(scenario);
    return scenario;
  } catch (err) {
    if (err instanceof ScenarioFileError || err instanceof UnsupportedScenarioError) throw new CliError(err.message, 2, { cause: err });
    if (err instanceof FlagError) throw new CliError(`${file}: ${err.message}`, 2, { cause: err });
    throw err;
  }
}

/**
 * The one path of run, sweep and compare: load, apply the flags (`--priority` last), validate,
 * read the pool policy, start (refused twice unless --rerun), maybe wait.
 */
async function launchFile(settings: Settings, file: string, flags: LaunchFlags, override: (s: Scenario) => Scenario = (s) => s, load?: () => Promise<Scenario>): Promise<void> {
  const scenario = await scenarioFrom(settings, file, flags.checkFiles, (s) => withPriority(override(s), flags.priority), load);
  const pool = await cliPoolPolicy();
  const { client, close } = await connect(settings);
  try {
    const handle = await startScenario(client, scenario, { rerun: flags.rerun, links: uiLinks(settings), pool }).catch((err: unknown) => {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new CliError(`${workflowId(scenario)} already ran or is running; see: gflow status '${workflowId(scenario)}' (or pass --rerun)`, 1, { cause: err });
      }
      throw err;
    });
    console.log(`started ${handle.workflowId}\n  Temporal: ${temporalWorkflowUrl(settings, handle.workflowId)}`);
    if (flags.wait) await followToEnd(client, settings, handle.workflowId);
  } finally {
    await close();
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The options every starting command shares. */
const launchOptions = (command: Command) =>
  command
    .option('-w, --wait', 'wait for the result, showing progress')
    .option('--rerun', 'start again even if this scenario already ran (a new MLflow run)')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .option('--priority <urgent|normal|background>', 'where its GPU jobs queue on a busy pool (default: the scenario’s priority:, else normal)');

/** Builds the `gflow` command tree; exported so tests can drive it without a subprocess. */
export function buildProgram(settings = loadSettings()): Command {
  const program = new Command('gflow').description('GuardianFlow: durable, recorded YOLO experiments').showHelpAfterError();
  // the site catalogue of every command that reads site names (scenarios, experiments.yaml, policies)
  program.option('--sites <file>', 'the site catalogue (default: GF_SITES_FILE, else ./sites.yaml)').hook('preAction', () => {
    const sites = program.opts<{ sites?: string }>().sites;
    if (sites !== undefined) process.env.GF_SITES_FILE = path.resolve(sites);
  });
  // the GPU pool's fair shares of every command that starts work (pool.yaml: weights per customer)
  program.option('--pool-policy <file>', 'the GPU pool policy (default: GF_POOL_FILE, else ./pool.yaml if there, else equal shares by customer)').hook('preAction', () => {
    const pool = program.opts<{ poolPolicy?: string }>().poolPolicy;
    if (pool !== undefined) process.env.GF_POOL_FILE = path.resolve(pool);
  });

  program
    .command('validate <scenario>')
    .description('check a scenario file and show the names it gets')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: { checkFiles: boolean }) => {
      const s = await scenarioFrom(settings, file, opts.checkFiles);
      console.log(`${file}: valid`);
      console.log(`  experiment: ${experimentName(s)}\n  run:        ${runName(s)}\n  model:      ${registeredModelName(s)}\n  workflow:   ${workflowId(s)}`);
      if (s.sweep) console.log(`  sweep:      ${sweepPlan(s.sweep)}`);
    });

  program
    .command('render <scenario>')
    .description('print the workflow input JSON, for `temporal workflow start --input-file`')
    .option('--no-check-files', 'do not require the dataset and weights files on this machine')
    .action(async (file: string, opts: { checkFiles: boolean }) => {
      const scenario = await scenarioFrom(settings, file, opts.checkFiles);
      console.log(JSON.stringify({ scenario }, null, 2));
      console.error(`start it with: temporal workflow start --type ${workflowFor(scenario)} --task-queue ${CONTROL_QUEUE} --workflow-id '${workflowId(scenario)}' --input-file <this output>`);
    });

  launchOptions(program.command('run <scenario>').description('validate a scenario and start its workflow (any design)')).action(async (file: string, opts: LaunchFlags) => {
    await launchFile(settings, file, opts);
  });

  launchOptions(
    trainOptions(siteAndDataOptions(program.command('sweep [scenario]')))
      .description('run a scenario as a hyper-parameter sweep; flags override its sweep: block (without a file: a train scenario from the flags of gflow train)')
      .option('-p, --param <name=[v1,v2]>', 'a parameter and its values, or a range name={min: a, max: b, log: true} (repeat for more; replaces the file’s parameters)', collect)
      .option('--strategy <grid|random|tpe>', 'grid, random in a seeded order, or tpe (Optuna; needs --max-runs; the values given are its choices)')
      .option('--max-runs <n>', 'at most this many trials')
      .option('--parallel <n>', 'trials at once across the GPU pool')
      .option('--metric <key>', 'the metric that picks the best trial')
      .option('--minimize', 'lower is better')
      .option('--seed <n>', 'the random order')
      .option('--fail-fast', 'stop the sweep at the first failed trial')
      .option('--no-register', 'without a file: register no weights, not even the best trial’s'),
  ).action(async (file: string | undefined, opts: SweepFlags & BuildFlags & LaunchFlags) => {
    if (file === undefined) {
      const built = flagScenario('sweep', opts);
      return launchFile(settings, built.where, opts, undefined, built.load);
    }
    refuseWithFile(file, opts);
    await launchFile(settings, file, opts, (s) => withDesign(s, 'sweep', sweepPatch(opts)));
  });

  launchOptions(
    benchmarkOptions(trainOptions(siteAndDataOptions(program.command('compare [scenario]')), 'train: model config; infer, quant: the model (.pt, runs:/…, models:/…)'))
      .option('--type <train|infer|quant>', 'without a file: the experiment type (default train with --architectures, else infer)')
      .description('run a scenario as a comparison; flags override its comparison: block (without a file: a scenario from the site, data and model flags, --type train|infer|quant)')
      .option('--architectures <a,b>', 'model configs to train (or benchmark) side by side')
      .option('--run-ids <id1,id2>', 'existing MLflow runs to compare (nothing runs)')
      .option('--quant-variants <onnx_fp32,openvino_int8>', 'quantized variants against the original')
      .option('--datasets <a.yaml,b.yaml>', 'datasets to benchmark the model on (cross-site)')
      .option('--models <m1,m2>', 'with --datasets: every model on every dataset')
      .option('--metric <key>', 'the metric that picks the best run')
      .option('--minimize', 'lower is better')
      .option('--parallel <n>', 'runs at once'),
  ).action(async (file: string | undefined, opts: CompareFlags & BuildFlags & LaunchFlags) => {
    if (file === undefined) {
      const built = flagScenario('comparison', opts);
      return launchFile(settings, built.where, opts, undefined, built.load);
    }
    refuseWithFile(file, opts);
    await launchFile(settings, file, opts, (s) => {
      const patch = comparePatch(opts);
      return withDesign(s, 'comparison', patch.fields, patch.kind);
    });
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
        // a closed workflow answers queries only while a worker can replay it; its result is always there
        const p = await handle.query<SingleRunProgress | BatchProgress | PromotionProgress | LegacyRunProgress>('progress').catch((err: unknown) => {
          if (description.status.name === 'RUNNING') throw err;
          return undefined;
        });
        if (!p) {
          console.log(`${id}: ${description.status.name}`);
          if (description.status.name === 'COMPLETED') printResult(settings, id, (await handle.result()) as ScenarioResult);
          else console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
          return;
        }
        console.log(`${id}: ${description.status.name} (phase ${p.phase})`);
        if ('gate' in p) {
          console.log(`  model:    ${p.model} v${p.version}`);
          for (const line of promotionLines(p)) console.log(line);
        } else {
          if ('total' in p) {
            const finished = settledTrials(p);
            console.log(`  ${textBar(finished, p.total)} ${finished}/${p.total} trials; ${batchSummary(p)}`);
          }
          if ('training' in p && p.training) console.log(`  epoch ${p.training.epoch}/${p.training.epochs} ${metricSummary(p.training.metrics)}`);
          if (p.runId && p.experimentId) console.log(`  MLflow:   ${mlflowRunUrl(settings, p.experimentId, p.runId)}`);
          if ('model' in p && p.model) console.log(`  model:    ${p.model.name}@${p.model.alias} (version ${p.model.version})`);
          if (p.error) console.log(`  error:    ${p.error}`);
          if ('entry' in p) for (const line of await scriptOutputLines(handle)) console.log(`  | ${line}`);
        }
        console.log(`  Temporal: ${temporalWorkflowUrl(settings, id)}`);
        if (opts.watch && description.status.name === 'RUNNING') await followToEnd(client, settings, id);
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

  registerFlagCommands(program, launchOptions, (where, flags, load) => launchFile(settings, where, flags, undefined, load));
  registerBatchCommands(program, settings);
  registerRegistryCommands(program, settings);
  registerLegacyCommands(program, settings);
  registerDevCommands(program, settings);
  registerReportCommands(program, settings);
  registerMetricsCommands(program, settings);
  registerServeCommand(program, settings);
  registerOptimizeCommands(program, settings);
  registerPromotionCommands(program, settings);
  registerDataCommands(program, settings);
  registerVersionCommands(program, settings);
  registerPoolCommands(program, settings);
  return program;
}

if (require.main === module) {
  Promise.resolve()
    .then(() => buildProgram().parseAsync(process.argv))
    .catch((caught: unknown) => {
      const err = serverError(caught) ?? caught;
      if (err instanceof CliError || err instanceof SettingsError || err instanceof WorkflowNotFoundError) {
        console.error(`gflow: ${err.message}`);
        process.exit(err instanceof CliError ? err.exitCode : err instanceof SettingsError ? 2 : 1);
      }
      console.error(err);
      process.exit(1);
    });
}
