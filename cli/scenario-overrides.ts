import path from 'node:path';
import { parse } from 'yaml';
import { isLocalArchitecture, isRemoteReference } from '../scenarios/model-reference';
import { PriorityLevel, type Scenario } from '../scenarios/schema';
import { checkScenario, formatIssues } from '../scenarios/validate';

/** A command-line flag that cannot be read; names the flag. */
export class FlagError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FlagError';
  }
}

type Value = string | number | boolean;

/**
 * `-p 'learning_rate=[0.001,0.01]'` or `-p learning_rate=0.001,0.01` → name and typed values (YAML
 * scalars); `-p 'learning_rate={min: 0.0001, max: 0.1, log: true}'` → a range, checked by the schema.
 * Names may be dotted paths (`augmentation.mosaic`).
 */
export function parseParamFlag(flag: string): [string, Value[] | Record<string, unknown>] {
  const match = /^([a-z_][a-z0-9_.]*)=(.+)$/.exec(flag.trim());
  if (!match) throw new FlagError(`-p/--param: expected name=[v1,v2,...] or name={min: a, max: b}, got ${JSON.stringify(flag)}`);
  const [, name, rest] = match;
  let values: unknown;
  try {
    values = /^[[{]/.test(rest.trim()) ? parse(rest) : rest.split(',').map((v) => parse(v.trim()) as unknown);
  } catch (err) {
    throw new FlagError(`-p/--param ${name}: cannot read ${JSON.stringify(rest)} as a list or a range`, { cause: err });
  }
  if (typeof values === 'object' && values !== null && !Array.isArray(values)) return [name, values as Record<string, unknown>];
  if (!Array.isArray(values) || values.length === 0 || !values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
    throw new FlagError(`-p/--param ${name}: expected a non-empty list of numbers, strings or booleans, got ${JSON.stringify(rest)}`);
  }
  return [name, values as Value[]];
}

export interface SweepFlags {
  param?: string[];
  strategy?: string;
  maxRuns?: string;
  parallel?: string;
  metric?: string;
  minimize?: boolean;
  seed?: string;
  failFast?: boolean;
}

export interface CompareFlags {
  architectures?: string;
  runIds?: string;
  quantVariants?: string;
  datasets?: string;
  models?: string;
  metric?: string;
  minimize?: boolean;
  parallel?: string;
}

/**
 * Paths on the command line are relative to the current directory (a scenario file's own paths
 * are relative to its folder): made absolute here for the GPU worker. URIs are passed on as given
 * for the schema to judge; `runs:/`/`models:/` references and architectures built by name stay.
 */
export const absolute = (file: string) => (file.includes(':/') ? file : path.resolve(file));
export const modelPath = (ref: string) => (isRemoteReference(ref) ? ref : absolute(ref));
export const architecturePath = (architecture: string) => (isLocalArchitecture(architecture) ? absolute(architecture) : architecture);
/** `site_a/data.yaml` → `site_a` (every ultralytics dataset file is `data.yaml`); `site_b.yaml` → `site_b`. */
export const datasetLabel = (file: string) => {
  const stem = path.basename(file).replace(/\.ya?ml$/, '');
  return stem === 'data' ? path.basename(path.dirname(absolute(file))) : stem;
};
/** `openvino_int8` → `{ backend: 'openvino', precision: 'int8' }`; the schema then checks both names. */
const quantVariant = (flag: string) => {
  const match = /^([a-z]+)_([a-z0-9]+)$/.exec(flag);
  if (!match) throw new FlagError(`--quant-variants: expected backend_precision (e.g. openvino_int8), got ${JSON.stringify(flag)}`);
  return { backend: match[1], precision: match[2] };
};
export const list = (value: string | undefined) => value?.split(',').map((v) => v.trim()).filter(Boolean);
/** `--max-runs 20`: a whole number, or a FlagError naming the flag (`Number('abc')` would reach the schema as NaN). */
export const wholeNumber = (flag: string, value: string | undefined) => {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw new FlagError(`${flag}: expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
};
const defined = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

/**
 * `-p` flags as sweep parameters. A parameter given twice gets the values of both, in order
 * (`-p lr=0.1 -p lr=0.2` is `lr: [0.1, 0.2]`); architecture paths are made absolute.
 */
export function paramFlags(flags: string[]): Record<string, Value[] | Record<string, unknown>> {
  const merged = new Map<string, Value[] | Record<string, unknown>>();
  for (const [name, values] of flags.map(parseParamFlag)) {
    const before = merged.get(name);
    if (!Array.isArray(values) || (before !== undefined && !Array.isArray(before))) {
      if (before !== undefined) throw new FlagError(`-p/--param ${name}: given twice, once as a range: give a range once, or values only`);
      merged.set(name, values);
      continue;
    }
    const resolved = name === 'architecture' ? values.map((v) => (typeof v === 'string' ? architecturePath(v) : v)) : values;
    merged.set(name, [...(before ?? []), ...resolved]);
  }
  return Object.fromEntries(merged);
}

/** The `sweep:` fields the flags set; flags win over the file, `-p` replaces its parameters. */
export function sweepPatch(flags: SweepFlags): Record<string, unknown> {
  return defined({
    parameters: flags.param?.length ? paramFlags(flags.param) : undefined,
    strategy: flags.strategy,
    max_runs: wholeNumber('--max-runs', flags.maxRuns),
    parallel: wholeNumber('--parallel', flags.parallel),
    metric: flags.metric,
    goal: flags.minimize ? 'minimize' : undefined,
    seed: wholeNumber('--seed', flags.seed),
    fail_fast: flags.failFast,
  });
}

/** The `comparison:` fields the flags set; a kind given on the command line replaces the file's kind. */
export function comparePatch(flags: CompareFlags): { kind: boolean; fields: Record<string, unknown> } {
  const variants = list(flags.quantVariants)?.map(quantVariant);
  const datasets = list(flags.datasets)?.map((file) => ({ path: absolute(file), version: datasetLabel(file) }));
  const kinds = defined({ architectures: list(flags.architectures)?.map(architecturePath), run_ids: list(flags.runIds), variants, datasets });
  return {
    kind: Object.keys(kinds).length > 0,
    fields: { ...kinds, ...defined({ models: list(flags.models)?.map(modelPath), metric: flags.metric, goal: flags.minimize ? 'minimize' : undefined, parallel: wholeNumber('--parallel', flags.parallel) }) },
  };
}

/** The scenario with the flags applied, checked again by the one schema so errors name the field. */
export function withDesign(scenario: Scenario, design: 'sweep' | 'comparison', fields: Record<string, unknown>, replaceKind = false): Scenario {
  const current = (design === 'sweep' ? scenario.sweep : scenario.comparison) ?? {};
  const kept = replaceKind ? Object.fromEntries(Object.entries(current).filter(([k]) => !['architectures', 'run_ids', 'variants', 'datasets'].includes(k))) : current;
  const checked = checkScenario({ ...scenario, design, [design]: { ...kept, ...fields } });
  if (!checked.ok) throw new FlagError(`the scenario with these flags is not valid:\n${formatIssues(checked.issues)}`);
  return checked.scenario;
}

/** `--priority urgent|normal|background`, or a FlagError naming the flag and the levels. */
export function priorityFlag(flag: string | undefined): PriorityLevel | undefined {
  if (flag === undefined) return undefined;
  const levels: string[] = Object.values(PriorityLevel);
  if (!levels.includes(flag)) throw new FlagError(`--priority: expected ${levels.join(', ')}, got ${JSON.stringify(flag)}`);
  return flag as PriorityLevel;
}

/** The scenario at the `--priority` level, when the flag is given (it wins over the file's `priority:`). */
export function withPriority(scenario: Scenario, flag: string | undefined): Scenario {
  const priority = priorityFlag(flag);
  return priority === undefined ? scenario : { ...scenario, priority };
}
