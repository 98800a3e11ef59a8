import { z } from 'zod';
import { experimentName, registeredModelName } from '../scenarios/naming';
import { ExperimentType, TaskType, type QuantVariant } from '../scenarios/schema';
import type { ScenarioIssue } from '../scenarios/validate';
import { ArgsTemplateError, buildArgv } from './args';
import { PRECISIONS } from './exports';
import { LegacyEntrySchema, UNKNOWN_TASK, type LegacyEntry } from './schema';

/** A `-p` name: it becomes the MLflow param `wrap.{name}`. */
const PARAM_NAME = /^[A-Za-z_][\w.-]*$/;

/** An MLflow run id (`-p source_run=…`). */
const RUN_ID = /^[0-9a-f]{32}$/;

/** `--name`: MLflow shows it everywhere, so one line of printable characters, and not too long to read. */
export const RUN_NAME_MAX = 250;
const RunNameSchema = z
  .string()
  .max(RUN_NAME_MAX, { error: `expected a run name of at most ${RUN_NAME_MAX} characters` })
  .refine((n) => n.trim() !== '', { error: 'expected a non-empty run name' })
  // eslint-disable-next-line no-control-regex
  .refine((n) => !/[\u0000-\u001f\u007f]/.test(n), { error: 'expected a run name without control characters (newlines, tabs)' });

/**
 * What `gflow wrap` sends to the `legacyRun` workflow (and what `temporal workflow start --type
 * legacyRun` must send): the registry entry itself, paths absolute, so the workflow needs no file.
 * Pure: the workflow checks its input with it before any run exists.
 */
export const WrapRequestSchema = z.strictObject({
  /** The entry's name in experiments.yaml. */
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  entry: LegacyEntrySchema,
  type: z.enum(ExperimentType),
  /** `-p key=value`: each value fills its placeholder as one argv element; keys become MLflow params `wrap.{key}`. */
  params: z
    .record(z.string(), z.string())
    .superRefine((params, ctx) => {
      for (const key of Object.keys(params)) {
        if (!PARAM_NAME.test(key)) ctx.addIssue({ code: 'custom', path: [key], message: `expected a parameter name of letters, digits, '_', '.' or '-', got ${JSON.stringify(key)}` });
      }
      if (params.precision !== undefined && !(PRECISIONS as string[]).includes(params.precision)) {
        ctx.addIssue({ code: 'custom', path: ['precision'], message: `expected ${PRECISIONS.join('|')}, got ${JSON.stringify(params.precision)}` });
      }
      if (params.source_run !== undefined && !RUN_ID.test(params.source_run)) ctx.addIssue({ code: 'custom', path: ['source_run'], message: `expected an MLflow run id (32 hex digits), got ${JSON.stringify(params.source_run)}` });
    })
    .default({}),
  /** `--script`: another script of the folder instead of the entry point's. */
  script: z.string().min(1).optional(),
  /** Keeps runs of one entry and type apart: the run name and workflow id end with it. */
  version: z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/, { error: 'expected a version of lowercase letters, digits, ".", "-" or "_"' }),
  /** `--name`: the MLflow run name instead of `{entry}-{type}-{version}` (the workflow id keeps the version). */
  runName: RunNameSchema.optional(),
  /** `--no-register`: false registers nothing (the run still records everything). */
  register: z.boolean().default(true),
  /** The training run exported files come from when `-p source_run` does not say (`gflow wrap` looks up the entry's last wrapped train run). */
  sourceRunId: z.string().regex(RUN_ID).optional(),
  /** How long the script may go without a heartbeat before its host counts as lost (default 2m). */
  gpuHeartbeatTimeout: z.string().optional(),
});
export type WrapRequest = z.infer<typeof WrapRequestSchema>;

/** What the GPU host runs: the script (or patterns that find it) and its argv. */
export interface WrapPlan {
  request: WrapRequest;
  /** The named script, relative to the folder; absent when the entry point has only patterns. */
  script?: string;
  patterns: string[];
  args: string[];
}

/**
 * Everything about a wrap request that can be known without the folder: its entry point exists,
 * its task is filled in, its folder is absolute, its template has a value for every placeholder.
 * Issues name fields relative to the entry (`entry_points.train.args_template`).
 */
export function planWrap(request: WrapRequest): { ok: true; plan: WrapPlan } | { ok: false; issues: ScenarioIssue[] } {
  const { entry, type } = request;
  const issues: ScenarioIssue[] = [];
  const point = entry.entry_points[type];
  if (!point) issues.push({ path: `entry_points.${type}`, message: `no ${type} entry point (the entry has: ${Object.keys(entry.entry_points).join(', ') || 'none'})` });
  if (entry.task.type === UNKNOWN_TASK) issues.push({ path: 'task.type', message: `unknown: set one of ${Object.values(TaskType).join('|')} before wrapping` });
  if (!entry.path.startsWith('/')) issues.push({ path: 'path', message: `expected an absolute folder, got ${JSON.stringify(entry.path)}` });
  let args: string[] = [];
  if (point) {
    try {
      args = buildArgv(point.args_template, request.params);
    } catch (err) {
      if (!(err instanceof ArgsTemplateError)) throw err;
      issues.push({ path: `entry_points.${type}.args_template`, message: err.message });
    }
  }
  if (issues.length > 0 || !point) return { ok: false, issues };
  return { ok: true, plan: { request, script: request.script ?? point.default, patterns: point.patterns ?? [], args } };
}

/** A known task (planWrap refused `unknown`), for the naming functions. */
function siteTask(entry: LegacyEntry) {
  return { site: entry.site, task: { type: entry.task.type as TaskType, classes: entry.task.classes } };
}

/** The MLflow experiment of the entry's site: the same one native runs of that site use. */
export function legacyExperimentName(entry: LegacyEntry): string {
  return experimentName(entry);
}

/** The registered model of the entry's site and task: the lineage native runs register into. */
export function legacyModelName(entry: LegacyEntry): string {
  return registeredModelName(siteTask(entry));
}

/** The registered model of an exported variant: the quantize stage's `…__{backend}_{precision}`. */
export function legacyVariantModelName(entry: LegacyEntry, variant: QuantVariant): string {
  return registeredModelName(siteTask(entry), variant);
}

/** `{entry}-{type}-{version}`: the workflow id's last part, and the run name unless `--name` gives one. */
export function legacyRunName(r: Pick<WrapRequest, 'name' | 'type' | 'version'>): string {
  return `${r.name}-${r.type}-${r.version}`;
}

/** The MLflow run name: `--name`, else `{entry}-{type}-{version}`. */
export function wrappedRunName(r: Pick<WrapRequest, 'name' | 'type' | 'version' | 'runName'>): string {
  return r.runName ?? legacyRunName(r);
}

/** `gf/legacy/{experiment}/{run name}`: deterministic, so the same wrap is not started twice. */
export function legacyWorkflowId(r: Pick<WrapRequest, 'name' | 'type' | 'version' | 'entry'>): string {
  return `gf/legacy/${legacyExperimentName(r.entry)}/${legacyRunName(r)}`;
}
