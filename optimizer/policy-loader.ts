import { readFile } from 'node:fs/promises';
import { parseYamlWith } from '../scenarios/loader';
import { resolvePolicySites, type SiteCatalogue } from '../scenarios/site-catalogue';
import { siteCatalogue } from '../scenarios/site-catalogue-loader';
import type { ScenarioIssue } from '../scenarios/validate';
import { OptimizerPolicySchema, type OptimizerPolicy } from './policy-schema';

/** A policy file that cannot be used; the message names the file and every bad field with its line. */
export class PolicyFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: ScenarioIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${file}: invalid optimizer policy\n${issues.map((i) => `  - ${i.path || '(file)'}: ${i.message}`).join('\n')}`, options);
    this.name = 'PolicyFileError';
  }
}

/** Parses policy YAML with the scenario loader's machinery: field paths, lines, bounded aliases; a scope's site name looked up in `sites`. */
export function parsePolicyText(text: string, file = '<policy>', sites: SiteCatalogue = siteCatalogue()): OptimizerPolicy {
  return parseYamlWith(OptimizerPolicySchema, text, (issues, options) => new PolicyFileError(file, issues, options), (input) => resolvePolicySites(input, sites));
}

/** Reads and checks a policy file (see parsePolicyText). */
export async function loadPolicyFile(file: string): Promise<OptimizerPolicy> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new PolicyFileError(file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }], { cause: err });
  });
  return parsePolicyText(text, file);
}
