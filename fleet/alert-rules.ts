import { readFile } from 'node:fs/promises';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { TaskType } from '../scenarios/schema';
import type { Site } from './records';

/**
 * Alert thresholds (`alerts.yaml`): built-in defaults from the issue and the seeds (champion
 * mAP50 below 0.75, latency p95 above 30 ms), a file's `defaults:` over them, then every
 * `overrides:` entry whose `match:` fits the site and task, in file order (the last one wins).
 * Every rule may be switched off (`enabled: false`) or given another severity.
 *
 * ```yaml
 * defaults:
 *   low_accuracy:  { below: 0.75, severity: critical }  # champion det.mAP50
 *   high_latency:  { above_ms: 30, severity: warning }  # champion sys.latency_ms_p95
 *   accuracy_drop: { above: 0.02, severity: warning }   # previous champion (rollback) − champion, det.mAP50
 *   no_recent_run: { days: 7, severity: info }
 * overrides:
 *   - match: { customer: donghwa-entec, task: ppe }     # also site: {customer}/{region}-{plant}/{zone}
 *     low_accuracy: { below: 0.8 }
 * ```
 */

export const Severity = { info: 'info', warning: 'warning', critical: 'critical' } as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

const common = { enabled: z.boolean().optional(), severity: z.enum(Severity).optional() };
const fraction = z.number().min(0).max(1);

const RulesBlock = {
  low_accuracy: z.strictObject({ ...common, below: fraction.optional() }).optional(),
  high_latency: z.strictObject({ ...common, above_ms: z.number().positive().optional() }).optional(),
  accuracy_drop: z.strictObject({ ...common, above: fraction.optional() }).optional(),
  no_recent_run: z.strictObject({ ...common, days: z.number().int().positive().optional() }).optional(),
};

export const AlertMatchSchema = z
  .strictObject({ customer: z.string().min(1).optional(), site: z.string().min(1).optional(), task: z.enum(TaskType).optional() })
  .refine((m) => m.customer !== undefined || m.site !== undefined || m.task !== undefined, { message: 'give at least one of customer, site, task' });

export const AlertRulesFileSchema = z.strictObject({
  defaults: z.strictObject(RulesBlock).optional(),
  overrides: z.array(z.strictObject({ match: AlertMatchSchema, ...RulesBlock })).default([]),
});
export type AlertRulesFile = z.infer<typeof AlertRulesFileSchema>;

/** The thresholds that apply to one site × task, every field filled. */
export interface SiteRules {
  low_accuracy: { enabled: boolean; severity: Severity; below: number };
  high_latency: { enabled: boolean; severity: Severity; above_ms: number };
  accuracy_drop: { enabled: boolean; severity: Severity; above: number };
  no_recent_run: { enabled: boolean; severity: Severity; days: number };
}

export const DEFAULT_RULES: SiteRules = {
  low_accuracy: { enabled: true, severity: Severity.critical, below: 0.75 },
  high_latency: { enabled: true, severity: Severity.warning, above_ms: 30 },
  accuracy_drop: { enabled: true, severity: Severity.warning, above: 0.02 },
  no_recent_run: { enabled: true, severity: Severity.info, days: 7 },
};

/** No file: the defaults alone. */
export const NO_RULES_FILE: AlertRulesFile = { overrides: [] };

type RuleName = keyof SiteRules;
const RULE_NAMES = Object.keys(DEFAULT_RULES) as RuleName[];

/** The rules of one site × task: defaults, the file's defaults, then each matching override in order. */
export function rulesFor(file: AlertRulesFile, target: { site: Site; siteKey: string; task: string }): SiteRules {
  const fits = ({ match }: AlertRulesFile['overrides'][number]) =>
    (match.customer ?? target.site.customer) === target.site.customer && (match.site ?? target.siteKey) === target.siteKey && (match.task ?? target.task) === target.task;
  const layers = [file.defaults ?? {}, ...file.overrides.filter(fits)];
  const rules = structuredClone(DEFAULT_RULES);
  for (const layer of layers) for (const name of RULE_NAMES) Object.assign(rules[name], layer[name]);
  return rules;
}

/** An alerts file that cannot be used; the message names the file and every bad field with its line. */
export class AlertRulesFileError extends Error {
  constructor(
    readonly file: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(`${file}: invalid alert rules\n${issues.map((i) => `  - ${i.path || '(file)'}: ${i.message}`).join('\n')}`);
    this.name = 'AlertRulesFileError';
  }
}

/** Parses and checks alert rules YAML; each issue names the field path and its line. */
export function parseAlertRules(text: string, file = '<alerts>'): AlertRulesFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw new AlertRulesFileError(file, doc.errors.map((e) => ({ path: '', message: `YAML: ${e.message.split('\n')[0]}` })));
  const parsed = AlertRulesFileSchema.safeParse(doc.toJS({ maxAliasCount: 100 }) ?? {});
  if (parsed.success) return parsed.data;
  throw new AlertRulesFileError(
    file,
    parsed.error.issues.map((issue) => {
      const line = lineOf(doc, issue.path, lineCounter);
      return { path: issue.path.map(String).join('.'), message: `${issue.message}${line ? ` (line ${line})` : ''}` };
    }),
  );
}

/** Reads an alerts file (see parseAlertRules). */
export async function loadAlertRules(file: string): Promise<AlertRulesFile> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new AlertRulesFileError(file, [{ path: '', message: `cannot read file (${err.code ?? err.message})` }]);
  });
  return parseAlertRules(text, file);
}

/** The line of the field, or of the nearest enclosing field present (a missing key's block). */
function lineOf(doc: Document.Parsed, path: PropertyKey[], counter: LineCounter): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}
