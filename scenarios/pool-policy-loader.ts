import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseYamlWith } from './loader';
import { DEFAULT_POOL_POLICY, PoolPolicySchema, type PoolPolicy } from './pool-policy';
import { formatIssues, type ScenarioIssue } from './validate';

/** A pool policy file that cannot be used; the message names the file and every bad field with its line. */
export class PoolPolicyError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ScenarioIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: invalid pool policy\n${formatIssues(issues)}`, options);
    this.name = 'PoolPolicyError';
  }
}

/** The pool policy file: `GF_POOL_FILE` (it must exist), else `pool.yaml` in the current folder (optional). */
export function poolPolicyFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { file: string; required: boolean } {
  return env.GF_POOL_FILE ? { file: path.resolve(cwd, env.GF_POOL_FILE), required: true } : { file: path.resolve(cwd, 'pool.yaml'), required: false };
}

/** Parses pool policy YAML: issues name the field and its line. */
export function parsePoolPolicyText(text: string, file = '<pool policy>'): PoolPolicy {
  return parseYamlWith(PoolPolicySchema, text, (issues, options) => new PoolPolicyError(file, issues, options));
}

/**
 * The pool policy in force: the named file, or equal shares by customer when the default
 * `pool.yaml` is not there. A file named by GF_POOL_FILE that is missing is an error, not equal shares.
 */
export async function loadPoolPolicy(where = poolPolicyFile()): Promise<PoolPolicy> {
  const text = await readFile(where.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' && !where.required) return undefined;
    throw new PoolPolicyError(where.file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }], { cause: err });
  });
  return text === undefined ? DEFAULT_POOL_POLICY : parsePoolPolicyText(text, where.file);
}
