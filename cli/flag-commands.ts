import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { loadScenarioFile } from '../scenarios/loader';
import type { ExperimentType, Scenario } from '../scenarios/schema';
import { siteCatalogue } from '../scenarios/site-catalogue-loader';
import { checkFlagScenario, designInputFromFlags, scenarioInputFromFlags, SEED_DEFAULTS, type AllFlags } from './flag-scenario';
import { FlagError, type CompareFlags, type SweepFlags } from './scenario-overrides';

/**
 * `gflow train | infer | quant` (and the no-file forms of `sweep` / `compare`): the seeds'
 * flag-driven commands. Each builds a scenario from its flags (cli/flag-scenario.ts), `--save FILE`
 * writes it as YAML and it is read back from that file, so what starts is exactly what the file
 * says; then it starts like `gflow run`.
 */

export interface LaunchFlags {
  wait?: boolean;
  rerun?: boolean;
  checkFiles: boolean;
  /** `--priority`: applied to the built scenario like to a file's. */
  priority?: string;
}

/** How gflow.ts starts a scenario: where it came from (for messages), the launch flags, and how to get it. */
export type Launch = (where: string, flags: LaunchFlags, load: () => Promise<Scenario>) => Promise<void>;

export type BuildFlags = AllFlags & SweepFlags & CompareFlags & { save?: string; type?: string };

/** The flags every flag-built scenario takes: the site (by catalogue name or parts), the task, names, data, device. */
export function siteAndDataOptions(command: Command): Command {
  return command
    .option('--site <name>', 'a site of the site catalogue (sites.yaml; --sites FILE or GF_SITES_FILE), instead of --customer … --zone')
    .option('--customer <c>', 'the site’s customer')
    .option('--region <r>', 'the site’s region (no -)')
    .option('--plant <p>', `the site’s plant (default ${SEED_DEFAULTS.plant})`)
    .option('--zone <z>', `the site’s zone (default ${SEED_DEFAULTS.zone})`)
    .option('--task <type>', 'ppe, fall, fire, collision or stuck')
    .option('--classes <a,b>', 'the class names (default: the names of the dataset’s data.yaml)')
    .option('-d, --data <data.yaml>', 'the YOLO dataset file (default with --site: the site’s dataset)')
    .option('--data-version <v>', 'the dataset version recorded (default: the dataset’s folder name)')
    .option('--imgsz <n>', `input size (default ${SEED_DEFAULTS.imgsz})`)
    .option('--device <d>', 'auto, cpu, cuda:N or GPU indices (default auto)')
    .option('--pool <name>', 'GPU pool (default default)')
    .option('--workers <n>', 'data-loader workers (default 2)')
    .option('--name <name>', 'the scenario name (default cli-<type>)')
    .option('--version <v>', 'ends the run name and workflow id (default: the time, e.g. w20261207t010203)')
    .option('--save <file>', 'write the scenario as YAML (a new file), then start it from that file');
}

/** The training flags of `train` and a flag-built `sweep`. */
export function trainOptions(command: Command, modelHelp = 'model config (yolov8s.yaml) or .pt weights to train'): Command {
  return command
    .option('-m, --model <arch>', modelHelp)
    .option('--weights <ref>', 'weights to start from (.pt, runs:/…, models:/…)')
    .option('--epochs <n>', `epochs (default ${SEED_DEFAULTS.epochs})`)
    .option('--batch <n>', `batch size (default ${SEED_DEFAULTS.batch})`)
    .option('--lr <x>', `learning rate (default ${SEED_DEFAULTS.lr})`)
    .option('--optimizer <name>', 'SGD, Adam, AdamW, NAdam, RAdam or RMSProp')
    .option('--patience <n>', 'epochs without improvement before stopping');
}

/** The benchmark flags of `infer`, `quant` and a flag-built `compare`. */
export function benchmarkOptions(command: Command): Command {
  return command
    .option('--arch <arch>', 'the model’s architecture, for its run name (default: a local .pt model itself)')
    .option('--batch-sizes <1,4,8>', `batch sizes to benchmark (default ${SEED_DEFAULTS.batchSizes})`)
    .option('--warmup <n>', 'warm-up runs per batch size')
    .option('--runs <n>', 'timed runs per batch size')
    .option('--latency-budget <ms>', 'the p95 latency per batch call the best batch size must fit (benchmark.latency_budget_ms)');
}

/** `--save FILE`: a new file only (an existing scenario is never overwritten). */
async function saveScenario(file: string, input: Record<string, unknown>, command: string): Promise<void> {
  if (existsSync(file)) throw new FlagError(`--save: ${file} exists; choose another file (a scenario file is never overwritten)`);
  await writeFile(file, `# written by gflow ${command} --save; run it again with: gflow run ${path.basename(file)}\n${stringify(input)}`, { flag: 'wx' });
}

/**
 * How a flag-built scenario is got: built and checked (issues naming flags), then with `--save`
 * written and read back through the scenario loader, so the file is proven to say the same.
 */
export function flagScenario(kind: ExperimentType | 'sweep' | 'comparison', flags: BuildFlags): { where: string; load: () => Promise<Scenario> } {
  return {
    where: flags.save ?? 'command-line flags',
    load: async () => {
      const sites = siteCatalogue();
      const input = kind === 'sweep' || kind === 'comparison' ? designInputFromFlags(kind, flags, sites) : scenarioInputFromFlags(kind, flags, sites);
      const scenario = checkFlagScenario(input, sites);
      if (flags.save === undefined) return scenario;
      await saveScenario(flags.save, input, kind === 'comparison' ? 'compare' : kind);
      return (await loadScenarioFile(flags.save, { checkFiles: false, sites })).scenario;
    },
  };
}

/** `gflow train`, `gflow infer`, `gflow quant`. */
export function registerFlagCommands(program: Command, launchOptions: (command: Command) => Command, launch: Launch): void {
  const start = (kind: ExperimentType) => async (opts: BuildFlags & LaunchFlags) => {
    const { where, load } = flagScenario(kind, opts);
    await launch(where, opts, load);
  };

  launchOptions(
    trainOptions(siteAndDataOptions(program.command('train').description('train a model from flags alone (no scenario file), as ultralytics’ yolo train')))
      .option('--no-register', 'do not register the trained weights'),
  ).action(start('train'));

  launchOptions(
    benchmarkOptions(siteAndDataOptions(program.command('infer').description('benchmark a model from flags alone: accuracy, latency per batch size'))).option(
      '-m, --model <ref>',
      'the model: a .pt path, runs:/<run id>/<path>, models:/<name>@<alias>',
    ),
  ).action(start('infer'));

  launchOptions(
    benchmarkOptions(siteAndDataOptions(program.command('quant').description('export and benchmark a quantized model from flags alone')))
      .option('-s, --source-run <run id>', 'the training run whose weights are exported')
      .option('-m, --model <ref>', 'or the model to export (.pt, runs:/…, models:/…)')
      .option('--backend <b>', `onnx, openvino or tensorrt (default ${SEED_DEFAULTS.backend})`)
      .option('--precision <p>', `fp32, fp16 or int8 (default ${SEED_DEFAULTS.precision})`)
      .option('--calibration <n>', 'images for int8 calibration'),
  ).action(start('quant'));
}
