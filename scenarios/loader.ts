import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Scenario } from './schema';
import { checkScenario, formatIssues, type ScenarioIssue } from './validate';

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
  /** Refuse a scenario whose dataset file is not on this machine (set false when GPU hosts hold the data). */
  checkFiles?: boolean;
}

/**
 * Reads, parses and validates a scenario YAML. Relative dataset/weights paths are resolved
 * against the scenario's folder so the GPU worker receives absolute paths.
 */
export async function loadScenarioFile(file: string, options: LoadOptions = {}): Promise<LoadedScenario> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new ScenarioFileError(file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }], { cause: err });
  });
  const scenario = parseScenarioText(text, file);
  const resolved = resolvePaths(scenario, path.dirname(path.resolve(file)));
  if (options.checkFiles ?? true) await assertFilesExist(resolved, file);
  return { file, scenario: resolved };
}

/** Parses scenario YAML text; issues carry the YAML line of the offending field. */
export function parseScenarioText(text: string, file = '<scenario>'): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ScenarioFileError(
      file,
      doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const checked = checkScenario(doc.toJS());
  if (checked.ok) return checked.scenario;
  const withLines = checked.issues.map((issue) => {
    const node = issue.path ? doc.getIn(issue.path.split('.').map(keyOrIndex), true) : undefined;
    if (!isNode(node) || !node.range) return issue;
    const { line } = lineCounter.linePos(node.range[0]);
    return { ...issue, message: `${issue.message} (line ${line})` };
  });
  throw new ScenarioFileError(file, withLines);
}

function keyOrIndex(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

function resolvePaths(s: Scenario, baseDir: string): Scenario {
  const abs = (p: string) => (p.includes(':/') || path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  return {
    ...s,
    dataset: { ...s.dataset, path: abs(s.dataset.path) },
    model: { ...s.model, weights: s.model.weights === null ? null : abs(s.model.weights) },
    ...(s.benchmark?.tracking && {
      benchmark: { ...s.benchmark, tracking: { ...s.benchmark.tracking, sequence: abs(s.benchmark.tracking.sequence), ground_truth: abs(s.benchmark.tracking.ground_truth) } },
    }),
    ...(s.comparison && {
      comparison: {
        ...s.comparison,
        datasets: s.comparison.datasets?.map((d) => ({ ...d, path: abs(d.path) })),
        models: s.comparison.models?.map(abs),
      },
    }),
  };
}

async function assertFilesExist(s: Scenario, file: string): Promise<void> {
  const missing: ScenarioIssue[] = [];
  const check = async (field: string, p: string | null) => {
    if (p === null || p.includes(':/')) return;
    await readFile(p).catch(() => missing.push({ path: field, message: `file not found: ${p}` }));
  };
  await check('dataset.path', s.dataset.path);
  await check('model.weights', s.model.weights);
  await check('benchmark.tracking.ground_truth', s.benchmark?.tracking?.ground_truth ?? null);
  for (const [i, d] of (s.comparison?.datasets ?? []).entries()) await check(`comparison.datasets.${i}.path`, d.path);
  for (const [i, m] of (s.comparison?.models ?? []).entries()) await check(`comparison.models.${i}`, m);
  if (missing.length > 0) throw new ScenarioFileError(file, missing);
}
