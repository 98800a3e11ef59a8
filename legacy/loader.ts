import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseYamlWith } from '../scenarios/loader';
import { resolveRegistrySites, type SiteCatalogue } from '../scenarios/site-catalogue';
import { siteCatalogue } from '../scenarios/site-catalogue-loader';
import type { ScenarioIssue } from '../scenarios/validate';
import { LegacyRegistrySchema, type LegacyRegistry } from './schema';

/** An experiments.yaml that cannot be used; the message names the file and every bad field with its line. */
export class RegistryFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ScenarioIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: invalid experiments registry\n${issues.map((i) => `  - ${i.path || '(file)'}: ${i.message}`).join('\n')}`, options);
    this.name = 'RegistryFileError';
  }
}

/** `./experiments.yaml`, else the seeds' `registry/experiments.yaml` when only that one exists. */
export function defaultRegistryFile(cwd = process.cwd()): string {
  const here = path.join(cwd, 'experiments.yaml');
  const seeds = path.join(cwd, 'registry', 'experiments.yaml');
  return !existsSync(here) && existsSync(seeds) ? seeds : here;
}

/** Parses registry YAML with the scenario loader's machinery: field paths, lines, bounded aliases, unknown keys refused; `site: <name>` looked up in `sites`. */
export function parseRegistryText(text: string, file = '<experiments.yaml>', sites: SiteCatalogue = siteCatalogue()): LegacyRegistry {
  return parseYamlWith(LegacyRegistrySchema, text, (issues, options) => new RegistryFileError(file, issues, options), (input) => resolveRegistrySites(input, sites));
}

/** `~` and `~/…` become the home folder; relative paths are taken from the registry file's folder. */
export function expandPath(p: string, baseDir: string): string {
  const home = p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
  return path.resolve(baseDir, home);
}

/**
 * Reads and checks a registry file: schema, every entry's folder (and `python:`, from the folder) made absolute, the folder checked to
 * exist, and no entry's folder inside (or equal to) another's, so a wrapped run can never run or
 * collect another entry's files. `check: false` skips the folder checks (`gflow list` of a registry
 * written on another host).
 */
export async function loadRegistryFile(file: string, options: { check?: boolean } = {}): Promise<LegacyRegistry> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new RegistryFileError(file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }], { cause: err });
  });
  const registry = parseRegistryText(text, file);
  const baseDir = path.dirname(path.resolve(file));
  for (const entry of Object.values(registry.experiments)) {
    entry.path = expandPath(entry.path, baseDir);
    if (entry.python !== undefined) entry.python = expandPath(entry.python, entry.path);
  }
  if (options.check ?? true) {
    const issues = await folderIssues(registry);
    if (issues.length > 0) throw new RegistryFileError(file, issues);
  }
  return registry;
}

async function folderIssues(registry: LegacyRegistry): Promise<ScenarioIssue[]> {
  const issues: ScenarioIssue[] = [];
  const real: [string, string][] = [];
  for (const [name, entry] of Object.entries(registry.experiments)) {
    const field = `experiments.${name}.path`;
    const info = await stat(entry.path).catch(() => undefined);
    if (!info) issues.push({ path: field, message: `no such folder: ${entry.path}` });
    else if (!info.isDirectory()) issues.push({ path: field, message: `not a folder: ${entry.path}` });
    else real.push([name, await realpath(entry.path)]);
  }
  for (const [name, folder] of real) {
    const other = real.find(([n, f]) => n !== name && (f === folder || folder.startsWith(f + path.sep)));
    if (other) issues.push({ path: `experiments.${name}.path`, message: `${folder} is ${other[1] === folder ? 'the folder' : 'inside the folder'} of experiments.${other[0]}: each entry needs a folder of its own` });
  }
  return issues;
}
