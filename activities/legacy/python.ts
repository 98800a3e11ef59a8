import { constants } from 'node:fs';
import { access, lstat, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The Python a wrapped script runs with. Site folders often carry their own environment (pinned
 * ultralytics, extra packages), so the entry's `python:` wins, then the folder's own `.venv` or
 * `venv`, then the GPU host's `GF_PYTHON`. The chosen path is run as it is, links not resolved: a
 * venv's `bin/python` is a link, and Python finds its `pyvenv.cfg` from the path it was started by.
 * `gflow wrap` checks a named one before starting; the GPU host chooses (and checks) again.
 */

/** Where the chosen Python came from (tag `legacy.python_source`). */
export type PythonSource = 'entry' | 'venv' | 'host';

export interface ChosenPython {
  path: string;
  source: PythonSource;
}

/** The folder environments looked for, in order, when the entry names no Python. */
export const FOLDER_PYTHONS = ['.venv/bin/python', 'venv/bin/python'];

/** A Python that cannot run: the message names the field (`python:`) or the folder's file at fault. */
export class PythonChoiceError extends Error {
  override name = 'PythonChoiceError';
}

/** What is wrong with `file` as an interpreter (missing, not a file, not executable), or undefined when it can run. */
export async function pythonProblem(file: string): Promise<string | undefined> {
  let info;
  try {
    info = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${file} does not exist` : `${file} cannot be read (${code ?? String(err)})`;
  }
  if (!info.isFile()) return `${file} is not a file`;
  return access(file, constants.X_OK).then(
    () => undefined,
    () => `${file} is not executable`,
  );
}

/** The entry's `python:`: absolute, or relative to the experiment folder. */
export function namedPython(folder: string, python: string): string {
  return path.resolve(folder, python);
}

/**
 * The Python for an entry in `folder`: its `python:` (which must run), else the first of
 * `FOLDER_PYTHONS` present (a present one that cannot run is refused, not skipped), else `hostPython`.
 */
export async function choosePython(folder: string, python: string | undefined, hostPython: string): Promise<ChosenPython> {
  if (python !== undefined) {
    const file = namedPython(folder, python);
    const problem = await pythonProblem(file);
    if (problem) throw new PythonChoiceError(`python: ${problem}`);
    return { path: file, source: 'entry' };
  }
  for (const rel of FOLDER_PYTHONS) {
    const file = path.join(folder, rel);
    if (!(await lstat(file).catch(() => undefined))) continue;
    const problem = await pythonProblem(file);
    if (problem) throw new PythonChoiceError(`the folder's ${rel}: ${problem} (fix or remove it, or name another python: in experiments.yaml)`);
    return { path: file, source: 'venv' };
  }
  return { path: hostPython, source: 'host' };
}
