import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { globMatcher } from '../../legacy/globs';

/** Folders never walked: version control, caches and environments hold no results and can be huge. */
const SKIPPED_FOLDERS = new Set(['.git', '__pycache__', 'node_modules', '.venv', 'venv', '.ipynb_checkpoints']);
/** A walk stops here: a folder of a million images is not an experiment's output. */
const MAX_FILES = 200_000;

/** A file's state when the snapshot was taken; a changed mtime or size means the script wrote it. */
export interface FileState {
  mtimeMs: number;
  size: number;
}
export type Snapshot = Map<string, FileState>;

/** An entry that cannot run as given: nothing started. */
export function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidExperimentEntry, nonRetryable: true });
}

/** The experiment folder with symlinks resolved; it must exist on this host. */
export async function realFolder(folder: string): Promise<string> {
  const real = await realpath(folder).catch(() => undefined);
  if (!real || !(await stat(real)).isDirectory()) throw refused(`experiment folder ${folder} does not exist on this host`);
  return real;
}

/** Whether `real` (a resolved path) is `folder` itself or inside it. */
function isInside(real: string, folder: string): boolean {
  return real === folder || real.startsWith(folder + path.sep);
}

/**
 * A file of the folder (the script, a collected file), symlinks resolved: `../../etc/passwd`, an
 * absolute path, or a link pointing out of the folder is refused, naming where it leads.
 */
export async function fileInFolder(folder: string, file: string): Promise<string> {
  const asked = path.resolve(folder, file);
  const real = await realpath(asked).catch(() => undefined);
  if (!isInside(real ?? asked, folder)) throw refused(`${file} resolves to ${real ?? asked}, outside the experiment folder ${folder}: refused`);
  if (!real) throw refused(`${file} not found in ${folder}`);
  if (!(await stat(real)).isFile()) throw refused(`${file} in ${folder} is not a file`);
  return real;
}

/** The first file directly in the folder (name order) that a pattern matches: the seeds' fallback when no default is named. */
export async function scriptByPatterns(folder: string, patterns: string[]): Promise<string> {
  const matches = globMatcher(patterns);
  const names = (await readdir(folder)).sort();
  const found = names.find((n) => matches(n));
  if (!found) throw refused(`no script in ${folder} matches ${patterns.join(', ')}`);
  return fileInFolder(folder, found);
}

/**
 * The files under the folder that the globs select, by relative path (`/`-separated). Symlinks are
 * not followed (a link out of the folder is never collected), nor are caches and environments.
 */
export async function snapshot(folder: string, globs: string[]): Promise<Snapshot> {
  const selected = globMatcher(globs);
  const files: Snapshot = new Map();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (files.size >= MAX_FILES) return;
      const full = path.join(dir, e.name);
      if (e.isDirectory() && !SKIPPED_FOLDERS.has(e.name)) await walk(full);
      else if (e.isFile()) {
        const rel = path.relative(folder, full).split(path.sep).join('/');
        if (!selected(rel)) continue;
        const info = await lstat(full).catch(() => undefined);
        if (info) files.set(rel, { mtimeMs: info.mtimeMs, size: info.size });
      }
    }
  };
  await walk(folder);
  return files;
}

/** Files new in `after` or whose mtime or size changed: what the script wrote. */
export function writtenFiles(before: Snapshot, after: Snapshot): { path: string; state: FileState }[] {
  return [...after]
    .filter(([rel, state]) => {
      const old = before.get(rel);
      return !old || old.mtimeMs !== state.mtimeMs || old.size !== state.size;
    })
    .map(([rel, state]) => ({ path: rel, state }));
}
