import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { isRemoteReference } from '../scenarios/model-reference';
import type { ExperimentType, Scenario } from '../scenarios/schema';
import { resolveScenarioSite, type SiteCatalogue } from '../scenarios/site-catalogue';
import { checkScenario, formatIssues, type ScenarioIssue } from '../scenarios/validate';
import { CliError } from './cli-error';
import { timeVersion } from './legacy-commands';
import { absolute, architecturePath, comparePatch, datasetLabel, FlagError, list, modelPath, sweepPatch, wholeNumber, type CompareFlags, type SweepFlags } from './scenario-overrides';

/**
 * The seeds' flag-driven commands (`gflow train -d data.yaml -m yolov8s.yaml --epochs 100 …`,
 * `infer`, `quant`, and `sweep` / `compare` without a file): the flags become a scenario object
 * that goes through the one schema, so a flag is held to exactly what a scenario file is, and an
 * error names the flag it came from (`--epochs (training.epochs): expected at least 1, got …`).
 * Paths are taken from the current directory.
 */

/** What every flag-built scenario may say: who, where, what data, which model, how it is recorded. */
export interface ScenarioFlags {
  site?: string;
  customer?: string;
  region?: string;
  plant?: string;
  zone?: string;
  task?: string;
  classes?: string;
  name?: string;
  version?: string;
  data?: string;
  dataVersion?: string;
  model?: string;
  arch?: string;
  weights?: string;
  imgsz?: string;
  device?: string;
  pool?: string;
  workers?: string;
  register?: boolean;
}

export interface TrainFlags {
  epochs?: string;
  batch?: string;
  lr?: string;
  optimizer?: string;
  patience?: string;
}

export interface InferFlags {
  batchSizes?: string;
  warmup?: string;
  runs?: string;
  latencyBudget?: string;
}

export interface QuantFlags {
  sourceRun?: string;
  backend?: string;
  precision?: string;
  calibration?: string;
}

export type AllFlags = ScenarioFlags & TrainFlags & InferFlags & QuantFlags;

/** The seeds' defaults (`train --epochs 100 --batch 16 --imgsz 640 --lr 0.01`, SiteConfig's plant1 / full). */
export const SEED_DEFAULTS = { epochs: '100', batch: '16', imgsz: '640', lr: '0.01', plant: 'plant1', zone: 'full', batchSizes: '1,8,16', backend: 'openvino', precision: 'int8' } as const;

/** Each scenario field and the flag it is set by (the longest matching prefix names an issue's flag). */
const FLAG_OF: Record<string, string> = {
  name: '--name',
  version: '--version',
  register: '--no-register',
  site: '--site',
  'site.customer': '--customer',
  'site.region': '--region',
  'site.plant': '--plant',
  'site.zone': '--zone',
  'task.type': '--task',
  'task.classes': '--classes',
  'model.architecture': '-m/--model',
  'model.input_size': '--imgsz',
  'dataset.path': '-d/--data',
  'dataset.version': '--data-version',
  'environment.device': '--device',
  'environment.gpu_pool': '--pool',
  'environment.workers': '--workers',
  'training.epochs': '--epochs',
  'training.batch_size': '--batch',
  'training.learning_rate': '--lr',
  'training.optimizer': '--optimizer',
  'training.patience': '--patience',
  'benchmark.batch_sizes': '--batch-sizes',
  'benchmark.warmup_runs': '--warmup',
  'benchmark.benchmark_runs': '--runs',
  'benchmark.latency_budget_ms': '--latency-budget',
  'quantization.source_run_id': '-s/--source-run',
  'quantization.calibration_size': '--calibration',
  'quantization.variants': '--backend/--precision',
  'sweep.parameters': '-p/--param',
  'sweep.strategy': '--strategy',
  'sweep.max_runs': '--max-runs',
  'sweep.parallel': '--parallel',
  'sweep.metric': '--metric',
  'sweep.seed': '--seed',
  'comparison.architectures': '--architectures',
  'comparison.run_ids': '--run-ids',
  'comparison.variants': '--quant-variants',
  'comparison.datasets': '--datasets',
  'comparison.models': '--models',
  'comparison.metric': '--metric',
  'comparison.parallel': '--parallel',
};

/** `model.weights` is `-m` for infer and quant (the model benchmarked or exported), `--weights` for train (where it starts from). */
function flagOf(field: string, type: ExperimentType): string | undefined {
  if (field === 'model.weights' || field.startsWith('model.weights.')) return type === 'train' ? '--weights' : '-m/--model';
  if (field === 'model.architecture' && type !== 'train') return '--arch';
  const key = Object.keys(FLAG_OF)
    .filter((k) => field === k || field.startsWith(`${k}.`))
    .sort((a, b) => b.length - a.length)[0];
  return key === undefined ? undefined : FLAG_OF[key];
}

/** Issues in the command line's words: the flag first, the field after it. */
export function flagIssues(issues: ScenarioIssue[], type: ExperimentType): ScenarioIssue[] {
  return issues.map((issue) => {
    const flag = flagOf(issue.path, type);
    return flag ? { ...issue, path: `${flag} (${issue.path})` } : issue;
  });
}

/** `--lr 0.01`: a number, or a FlagError naming the flag. */
function decimal(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(value.trim())) throw new FlagError(`${flag}: expected a number, got ${JSON.stringify(value)}`);
  return Number(value);
}

const defined = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
const SITE_PARTS = ['customer', 'region', 'plant', 'zone'] as const;

/** `--site name`, or the parts (`--plant` and `--zone` default to the seeds' plant1 and full); both at once is refused. */
function siteOf(flags: ScenarioFlags): string | Record<string, string> | undefined {
  const parts = SITE_PARTS.filter((p) => flags[p] !== undefined);
  if (flags.site !== undefined) {
    if (parts.length > 0) throw new FlagError(`--site and ${parts.map((p) => `--${p}`).join(', ')}: name the site from the catalogue or give its parts, not both`);
    return flags.site;
  }
  if (flags.customer === undefined && flags.region === undefined) return undefined;
  return defined({ customer: flags.customer, region: flags.region, plant: flags.plant ?? SEED_DEFAULTS.plant, zone: flags.zone ?? SEED_DEFAULTS.zone }) as Record<string, string>;
}

/**
 * The classes a YOLO data.yaml names (`names: [a, b]` or `names: {0: a, 1: b}`), so `--classes`
 * can be left out when the dataset is on this machine; undefined when it cannot be read here.
 */
export function datasetClasses(dataYaml: string): string[] | undefined {
  if (isRemoteReference(dataYaml) || dataYaml.includes(':/') || !existsSync(dataYaml)) return undefined;
  try {
    const names = (parse(readFileSync(dataYaml, 'utf8')) as { names?: unknown } | null)?.names;
    const values = Array.isArray(names) ? names : typeof names === 'object' && names !== null ? Object.values(names) : undefined;
    return values?.every((v) => typeof v === 'string') ? (values) : undefined;
  } catch {
    return undefined;
  }
}

/** The architecture of an infer or quant scenario: `--arch`, else a local `.pt` model itself (its run name is the file's). */
function architectureOf(type: ExperimentType, flags: ScenarioFlags): string | undefined {
  if (type === 'train') return flags.model === undefined ? undefined : architecturePath(flags.model);
  if (flags.arch !== undefined) return architecturePath(flags.arch);
  return flags.model !== undefined && !isRemoteReference(flags.model) && flags.model.endsWith('.pt') ? absolute(flags.model) : undefined;
}

/** The block each experiment type needs, from its own flags with the seeds' defaults. */
function typeBlock(type: ExperimentType, flags: AllFlags): Record<string, unknown> {
  if (type === 'train') {
    return {
      training: defined({
        epochs: wholeNumber('--epochs', flags.epochs ?? SEED_DEFAULTS.epochs),
        batch_size: wholeNumber('--batch', flags.batch ?? SEED_DEFAULTS.batch),
        learning_rate: decimal('--lr', flags.lr ?? SEED_DEFAULTS.lr),
        optimizer: flags.optimizer,
        patience: wholeNumber('--patience', flags.patience),
      }),
    };
  }
  const benchmark = {
    benchmark: defined({
      batch_sizes: list(flags.batchSizes ?? SEED_DEFAULTS.batchSizes)?.map((n) => wholeNumber('--batch-sizes', n)),
      warmup_runs: wholeNumber('--warmup', flags.warmup),
      benchmark_runs: wholeNumber('--runs', flags.runs),
      latency_budget_ms: decimal('--latency-budget', flags.latencyBudget),
    }),
  };
  if (type === 'infer') return benchmark;
  return {
    ...benchmark,
    quantization: defined({
      variants: [{ backend: flags.backend ?? SEED_DEFAULTS.backend, precision: flags.precision ?? SEED_DEFAULTS.precision }],
      calibration_size: wholeNumber('--calibration', flags.calibration),
      source_run_id: flags.sourceRun,
    }),
  };
}

/**
 * The scenario the flags describe, as a file would say it (site by name when `--site` names it,
 * absolute paths): what `--save` writes. Classes come from the dataset's data.yaml when
 * `--classes` is left out and the dataset (given or the site's default) is on this machine.
 */
export function scenarioInputFromFlags(type: ExperimentType, flags: AllFlags, sites: SiteCatalogue, now = new Date()): Record<string, unknown> {
  const weights = type === 'train' ? flags.weights : flags.model;
  const input: Record<string, unknown> = defined({
    name: flags.name ?? `cli-${type}`,
    version: flags.version ?? timeVersion(now),
    type,
    site: siteOf(flags),
    task: defined({ type: flags.task, classes: list(flags.classes) }),
    model: defined({ architecture: architectureOf(type, flags), input_size: wholeNumber('--imgsz', flags.imgsz ?? SEED_DEFAULTS.imgsz), weights: weights === undefined ? undefined : modelPath(weights) }),
    dataset: flags.data === undefined ? undefined : { path: absolute(flags.data), version: flags.dataVersion ?? datasetLabel(flags.data) },
    environment: defined({ device: flags.device, gpu_pool: flags.pool, workers: wholeNumber('--workers', flags.workers) }),
    ...typeBlock(type, flags),
    register: flags.register === false ? false : undefined,
  });
  const task = input.task as Record<string, unknown>;
  if (task.classes === undefined) {
    const resolved = resolveScenarioSite(input, sites).input as { dataset?: { path?: unknown } };
    const dataPath = resolved.dataset?.path;
    const classes = typeof dataPath === 'string' ? datasetClasses(dataPath) : undefined;
    if (classes) task.classes = classes;
  }
  return input;
}

/** Checks flag-built input with the one schema (site names resolved first); issues name their flags. */
export function checkFlagScenario(input: Record<string, unknown>, sites: SiteCatalogue): Scenario {
  const type = input.type as ExperimentType;
  const prepared = resolveScenarioSite(input, sites);
  const checked = checkScenario(prepared.input);
  if (checked.ok && prepared.issues.length === 0) return checked.scenario;
  const refused = new Set([...prepared.issues.map((i) => i.path), ...(prepared.covers ?? [])]);
  const schemaIssues = checked.ok ? [] : checked.issues.filter((i) => !refused.has(i.path));
  const issues = flagIssues([...prepared.issues, ...schemaIssues], type).map((i) => {
    if (!i.message.startsWith('required')) return i;
    if (i.path.startsWith('--classes (')) return { ...i, message: `${i.message}: give --classes a,b (or a dataset on this machine whose data.yaml names them)` };
    if (i.path.startsWith('--site (')) return { ...i, message: `${i.message}: give --site <catalogue name>, or --customer and --region (with --plant, --zone)` };
    return i;
  });
  throw new FlagError(`the scenario these flags describe is not valid:\n${formatIssues(issues)}`);
}

/** A sweep or comparison built from flags alone: a train (sweep) or `--type` (comparison) scenario with the design's block from its flags. */
export function designInputFromFlags(design: 'sweep' | 'comparison', flags: AllFlags & SweepFlags & CompareFlags & { type?: string }, sites: SiteCatalogue): Record<string, unknown> {
  if (design === 'sweep') {
    if (flags.type !== undefined && flags.type !== 'train') throw new FlagError(`--type: a sweep varies training parameters: it needs train, got ${JSON.stringify(flags.type)}`);
    return { ...scenarioInputFromFlags('train', flags, sites), design, sweep: sweepPatch(flags) };
  }
  const type = (flags.type ?? (flags.architectures !== undefined ? 'train' : 'infer')) as ExperimentType;
  if (!['train', 'infer', 'quant'].includes(type)) throw new FlagError(`--type: expected train, infer or quant, got ${JSON.stringify(flags.type)}`);
  return { ...scenarioInputFromFlags(type, flags, sites), design, comparison: comparePatch(flags).fields };
}

/** The flags that describe a scenario, refused next to a scenario file (the file says those things). */
export const SCENARIO_FLAG_NAMES = ['site', 'customer', 'region', 'plant', 'zone', 'task', 'classes', 'name', 'version', 'data', 'dataVersion', 'model', 'arch', 'weights', 'imgsz', 'device', 'pool', 'workers', 'epochs', 'batch', 'lr', 'optimizer', 'patience', 'batchSizes', 'save', 'type'] as const;

/** `--epochs` next to a scenario file: refused, naming the flags, rather than silently ignored. */
export function refuseWithFile(file: string, flags: object): void {
  const given = SCENARIO_FLAG_NAMES.filter((name) => (flags as Record<string, unknown>)[name] !== undefined).map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if ((flags as { register?: boolean }).register === false) given.push('--no-register');
  if (given.length > 0) throw new CliError(`${file}: ${given.join(', ')}: describe a scenario without a file; the file says these (edit it, or leave the file out)`, 2);
}
