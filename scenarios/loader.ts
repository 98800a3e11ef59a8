import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isNode, isPair, isScalar, isSeq, visit, type Document, type Node } from 'yaml';
import { isObjectStoreDataset } from './dataset-uri';
import { isLocalArchitecture, isModelFolderName, isRemoteReference } from './model-reference';
import type { z } from 'zod';
import { ScenarioSchema, type Scenario } from './schema';
import { resolveScenarioSite, type PreparedInput, type SiteCatalogue } from './site-catalogue';
import { siteCatalogue } from './site-catalogue-loader';
import { checkAgainst, formatIssues, type ScenarioIssue } from './validate';

/** A scenario file that cannot be run; the message names the file and every bad field. */
export class ScenarioFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ScenarioIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: invalid scenario\n${formatIssues(issues)}`, options);
    this.name = 'ScenarioFileError';
  }
}

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
}

export interface LoadOptions {
  /** Refuse a scenario whose dataset, model or tracking files are not on this machine (set false when GPU hosts hold the data). */
  checkFiles?: boolean;
  /** Where `site: <name>` is looked up (default: siteCatalogueFile()). */
  sites?: SiteCatalogue;
}

/**
 * Reads, parses and validates a scenario YAML. Relative paths (dataset, weights, a local
 * architecture, tracking files, comparison and sweep entries) are resolved against the
 * scenario's folder so the GPU worker receives absolute paths; then each is checked to exist.
 */
export async function loadScenarioFile(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ScenarioFileError(file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }], { cause: err });
  });
  const scenario = resolveScenarioPaths(parseScenarioText(text, file, options.sites), path.dirname(path.resolve(file)));
  if (options.checkFiles ?? true) await checkScenarioFiles(scenario, file);
  return { file, scenario };
}

/** YAML aliases a scenario may expand, all together: enough for sharing blocks, far too few for an alias bomb. */
const MAX_ALIAS_COUNT = 100;

/** Parses scenario YAML text (`site: <name>` looked up in `sites`); issues carry the YAML line of the offending field. */
export function parseScenarioText(text: string, file = '<scenario>', sites: SiteCatalogue = siteCatalogue()): Scenario {
  return parseYamlWith(ScenarioSchema, text, (issues, options) => new ScenarioFileError(file, issues, options), (input) => resolveScenarioSite(input, sites));
}

/** How a YAML file of one kind reports its issues (a scenario: ScenarioFileError). */
export type YamlFileError = (issues: ScenarioIssue[], options?: { cause?: unknown }) => Error;

/**
 * Parses YAML text and validates it against `schema` (a scenario, an optimizer policy): YAML
 * errors, aliases and every schema issue become `fail(issues)`, each issue with the YAML line of
 * its field (or of the nearest enclosing field present). `prepare` rewrites the plain data first
 * (site names → site blocks) and reports what it could not rewrite, with lines like the schema's.
 */
export function parseYamlWith<S extends z.ZodType>(schema: S, text: string, fail: YamlFileError, prepare?: (input: unknown) => PreparedInput): z.infer<S> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;
  if (doc.errors.length > 0) {
    throw fail(doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })));
  }
  const prepared = prepare ? prepare(toPlain(doc, fail, lineOf)) : { input: toPlain(doc, fail, lineOf), issues: [] };
  const checked = checkAgainst(schema, prepared.input);
  if (checked.ok && prepared.issues.length === 0) return checked.value;
  // a site name that was not found also fails the schema (`site: expected a mapping`): its own issue says why
  const refused = new Set([...prepared.issues.map((i) => i.path), ...(prepared.covers ?? [])]);
  const schemaIssues = checked.ok ? [] : checked.issues.filter((i) => !refused.has(i.path));
  const withLines = [...prepared.issues, ...schemaIssues].map((issue) => {
    const node = nearestNode(doc, issue.path);
    return node?.range ? { ...issue, message: `${issue.message} (line ${lineOf(node.range[0])})` } : issue;
  });
  throw fail(withLines);
}

/**
 * The document as plain data. An alias without an anchor before it, or aliases that expand
 * beyond MAX_ALIAS_COUNT (a "billion laughs" file), are refused as field errors with their line
 * instead of escaping as the yaml library's ReferenceError.
 */
function toPlain(doc: Document.Parsed, fail: YamlFileError, lineOf: (offset: number) => number): unknown {
  const aliases: { field: string; line: number; source: string; resolved: boolean }[] = [];
  visit(doc, {
    Alias(_key, node, ancestors) {
      aliases.push({ field: fieldPath([...ancestors, node]), line: lineOf(node.range?.[0] ?? 0), source: node.source, resolved: node.resolve(doc) !== undefined });
    },
  });
  const unresolved = aliases.filter((a) => !a.resolved);
  if (unresolved.length > 0) {
    throw fail(unresolved.map((a) => ({ path: a.field, message: `YAML: alias *${a.source} has no anchor &${a.source} before it (line ${a.line})` })));
  }
  try {
    // Stryker disable next-line ObjectLiteral: equivalent, yaml's own default is 100 too; stated so that a new default cannot loosen it
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const first = aliases[0];
    throw fail([{ path: first?.field ?? '', message: `YAML: aliases expand to too much data (${err instanceof Error ? err.message : String(err)})${first ? ` (line ${first.line})` : ''}` }], { cause: err });
  }
}

/** `training.epochs`, `comparison.models.1`: the field a node sits in, from its ancestors. */
function fieldPath(chain: readonly unknown[]): string {
  const parts: string[] = [];
  chain.forEach((item, i) => {
    if (isPair(item)) parts.push(String(isScalar(item.key) ? item.key.value : item.key));
    else if (isSeq(item)) parts.push(String(item.items.indexOf(chain[i + 1])));
  });
  return parts.join('.');
}

/** The node of a field, or of the nearest enclosing field that is there (a missing key's block). */
function nearestNode(doc: Document.Parsed, field: string): Node | undefined {
  const parts = field ? field.split('.').map(keyOrIndex) : [];
  for (let n = parts.length; n > 0; n--) {
    const node: unknown = doc.getIn(parts.slice(0, n), true);
    if (isNode(node)) return node;
  }
  return undefined;
}

function keyOrIndex(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

/**
 * Every path a scenario names, made absolute against `baseDir` (the scenario file's folder, or
 * the current directory for command-line flags). `runs:/` and `models:/` references and
 * architectures built by name (`yolov8n.yaml`) stay as they are.
 */
export function resolveScenarioPaths(s: Scenario, baseDir: string): Scenario {
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  const dataset = (p: string) => (isObjectStoreDataset(p) ? p : abs(p));
  const model = (ref: string) => (isRemoteReference(ref) ? ref : abs(ref));
  const architecture = (a: string) => (isLocalArchitecture(a) ? abs(a) : a);
  const sweptArchitectures = sweptList(s, 'architecture');
  return {
    ...s,
    dataset: { ...s.dataset, path: dataset(s.dataset.path) },
    model: { ...s.model, architecture: architecture(s.model.architecture), weights: s.model.weights === null ? null : model(s.model.weights) },
    ...(s.benchmark?.tracking && {
      benchmark: { ...s.benchmark, tracking: { ...s.benchmark.tracking, sequence: abs(s.benchmark.tracking.sequence), ground_truth: abs(s.benchmark.tracking.ground_truth) } },
    }),
    ...(s.comparison && {
      comparison: {
        ...s.comparison,
        architectures: s.comparison.architectures?.map(architecture),
        datasets: s.comparison.datasets?.map((d) => ({ ...d, path: dataset(d.path) })),
        models: s.comparison.models?.map(model),
      },
    }),
    ...(s.sweep &&
      sweptArchitectures && {
        sweep: { ...s.sweep, parameters: { ...s.sweep.parameters, architecture: sweptArchitectures.map((a) => (typeof a === 'string' ? architecture(a) : a)) } },
      }),
  };
}

/** A swept parameter's list of values (a `tpe` range is never a path). */
function sweptList(s: Scenario, name: string): (string | number | boolean)[] | undefined {
  const space = s.sweep?.parameters[name];
  return Array.isArray(space) ? space : undefined;
}

/** What a path must be: a file, a folder (a frame sequence), or a model (a file or an exported model folder). */
type Expected = 'file' | 'folder' | 'model';

/**
 * Refuses a scenario naming a local path that is not on this machine, or that is a file where a
 * folder is needed (or the reverse), before anything starts. `runs:/` and `models:/` are
 * resolved on the GPU host, whose fetch fails before the executor starts; an `s3://` dataset's
 * manifest is checked by the CLI (cli/dataset-check.ts), which has the S3 client.
 */
export async function checkScenarioFiles(s: Scenario, file: string): Promise<void> {
  const issues: ScenarioIssue[] = [];
  const check = async (field: string, p: string | null, expected: Expected) => {
    if (p === null || isRemoteReference(p) || isObjectStoreDataset(p)) return;
    const found = await stat(p).catch(() => undefined);
    if (!found) issues.push({ path: field, message: `${expected === 'folder' ? 'folder' : 'file'} not found: ${p}` });
    else if (expected === 'folder' && !found.isDirectory()) issues.push({ path: field, message: `expected a folder, got a file: ${p}` });
    else if (expected !== 'folder' && found.isDirectory() && !(expected === 'model' && isModelFolderName(p))) {
      const hint = expected === 'model' ? ' (an exported model folder is named *_openvino_model, *_saved_model, … or *.mlpackage)' : '';
      issues.push({ path: field, message: `expected a file, got a folder: ${p}${hint}` });
    }
  };
  // only a benchmark reads an exported folder; training and export start from a .pt file
  const weightsMayBeFolder = s.type === 'infer' && s.comparison?.variants === undefined;
  const architectures = async (field: string, list: readonly unknown[] | undefined) => {
    for (const [i, a] of (list ?? []).entries()) if (typeof a === 'string' && isLocalArchitecture(a)) await check(`${field}.${i}`, a, 'file');
  };

  await check('dataset.path', s.dataset.path, 'file');
  if (isLocalArchitecture(s.model.architecture)) await check('model.architecture', s.model.architecture, 'file');
  await check('model.weights', s.model.weights, weightsMayBeFolder ? 'model' : 'file');
  await check('benchmark.tracking.sequence', s.benchmark?.tracking?.sequence ?? null, 'folder');
  await check('benchmark.tracking.ground_truth', s.benchmark?.tracking?.ground_truth ?? null, 'file');
  for (const [i, d] of (s.comparison?.datasets ?? []).entries()) await check(`comparison.datasets.${i}.path`, d.path, 'file');
  for (const [i, m] of (s.comparison?.models ?? []).entries()) await check(`comparison.models.${i}`, m, 'model');
  await architectures('comparison.architectures', s.comparison?.architectures);
  await architectures('sweep.parameters.architecture', sweptList(s, 'architecture'));
  if (issues.length > 0) throw new ScenarioFileError(file, issues.sort((a, b) => a.path.localeCompare(b.path)));
}
