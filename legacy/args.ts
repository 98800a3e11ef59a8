import { PLACEHOLDER, type ArgsTemplate } from './schema';

/**
 * `-p` names GuardianFlow reads itself (`precision` of exported files, `source_run` for their
 * lineage): they fill a placeholder of that name, but are never refused as unused nor passed as
 * `--flags` without a template, since a site script need not take them.
 */
export const RESERVED_PARAMS = ['precision', 'source_run'];

/** An args template that cannot be filled: the message names what is missing or unused. */
export class ArgsTemplateError extends Error {
  override name = 'ArgsTemplateError';
}

/** The template as argv elements: a string is split on whitespace (no quoting: each element is literal). */
function templateElements(template: ArgsTemplate): string[] {
  return typeof template === 'string' ? template.split(/\s+/).filter((t) => t !== '') : template;
}

/** The `{name}` placeholders of a template, in order of first use. */
function placeholders(template: ArgsTemplate): string[] {
  const names = templateElements(template).flatMap((el) => [...el.matchAll(PLACEHOLDER)].map((m) => m[1]));
  return [...new Set(names)];
}

/**
 * The script's arguments, never through a shell: each placeholder is replaced inside its own
 * element, so a value (`; rm -rf ~`, `$(…)`, spaces) stays one literal argv element. Without a
 * template, each parameter (but the reserved ones) becomes `--{key-with-dashes} {value}` as in the seeds. A placeholder
 * with no value, or a parameter the template does not use (a typo), is refused before anything runs.
 */
export function buildArgv(template: ArgsTemplate | undefined, params: Record<string, string>): string[] {
  if (template === undefined) return Object.entries(params).filter(([k]) => !RESERVED_PARAMS.includes(k)).flatMap(([k, v]) => [`--${k.replace(/_/g, '-')}`, v]);
  const names = placeholders(template);
  const missing = names.filter((n) => !(n in params));
  if (missing.length > 0) throw new ArgsTemplateError(`placeholder ${missing.map((m) => `{${m}}`).join(', ')} has no value (pass ${missing.map((m) => `-p ${m}=…`).join(' ')})`);
  const unused = Object.keys(params).filter((k) => !names.includes(k) && !RESERVED_PARAMS.includes(k));
  if (unused.length > 0) throw new ArgsTemplateError(`-p ${unused.join(', ')}: not a placeholder of the args template (${names.map((n) => `{${n}}`).join(' ') || 'none'})`);
  return templateElements(template).map((el) => el.replace(PLACEHOLDER, (_m, name: string) => params[name]));
}
