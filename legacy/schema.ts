import { z } from 'zod';
import { ExperimentType, SiteSchema, TaskType } from '../scenarios/schema';
import { PRECISIONS } from './exports';

/**
 * The `experiments.yaml` schema: the one source of the legacy registry's types (`z.infer`).
 * Maps each existing experiment folder to a site and task, with its scripts per experiment type.
 * Every object is strict, so a misspelt key (or an entry point of an unknown type) is an error
 * naming the field. Pure: the `legacyRun` workflow validates its input with it.
 */

/** An entry name: it becomes part of run names and workflow ids. */
const ENTRY_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** `{name}` in an args template; anything else between braces is refused, not passed on silently. */
export const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * `scan` writes `unknown` where a folder name names no task (`sampyo-gimhae-bct`): the entry can be
 * listed, and `wrap` refuses it until someone fills the task in.
 */
export const UNKNOWN_TASK = 'unknown';

/** The files a wrapped run collects by default: weights, exports, tables, plots, configs. */
const DEFAULT_COLLECT_GLOBS = ['*.pt', '*.onnx', '*.engine', '*.xml', '*.bin', 'results.csv', '*.png', '*.json', '*.yaml'];
const DEFAULT_MAX_FILE_MB = 500;

/**
 * Guild AI's `key: value` convention (`mAP50: 0.812`): one metric per line, the whole line.
 * A custom regex needs the named groups `key` and `value`.
 */
export const DEFAULT_STDOUT_METRICS = String.raw`^\s*(?<key>[A-Za-z][\w.\-/]*)\s*[:=]\s*(?<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$`;

const pathText = z.string().min(1, { error: 'expected a path' });

/** A script in the folder: a relative path (containment is checked against the real folder when it runs). */
const scriptName = pathText.refine((p) => !p.startsWith('/') && !p.startsWith('~'), { error: 'expected a path relative to the experiment folder' });

/** One argv element per list item, or a string split on whitespace; placeholders are filled per element. */
const ArgsTemplateSchema = z.union([z.string(), z.array(z.string())]);

const EntryPointSchema = z
  .strictObject({
    /** Globs (in the folder, not below) that find the script when there is no `default`. */
    patterns: z.array(pathText).optional(),
    default: scriptName.optional(),
    args_template: ArgsTemplateSchema.optional(),
    /** The precision of the models this script exports when their file names do not say (`-p precision` overrides it). */
    precision: z.enum(PRECISIONS).optional(),
  })
  .refine((e) => e.default !== undefined || (e.patterns?.length ?? 0) > 0, { error: 'expected a default script or patterns' });

const regexText = z.string().superRefine((text, ctx) => {
  try {
    const groups = new RegExp(text).source;
    if (!groups.includes('(?<key>') || !groups.includes('(?<value>')) ctx.addIssue({ code: 'custom', message: 'expected a regex with the named groups (?<key>…) and (?<value>…)' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a regex: ${err instanceof Error ? err.message : String(err)}` });
  }
});

const CollectSchema = z.strictObject({
  globs: z.array(pathText).min(1).default(DEFAULT_COLLECT_GLOBS),
  /** Larger files are listed in `collected.json`, not uploaded. */
  max_file_mb: z.number().positive().default(DEFAULT_MAX_FILE_MB),
});

const LegacyTaskSchema = z.strictObject({
  type: z.union([z.enum(TaskType), z.literal(UNKNOWN_TASK)]),
  classes: z.array(z.string()).default([]),
});

const EntryPointsSchema = z.strictObject({
  train: EntryPointSchema.optional(),
  infer: EntryPointSchema.optional(),
  quant: EntryPointSchema.optional(),
});

export const LegacyEntrySchema = z.strictObject({
  path: pathText,
  site: SiteSchema,
  task: LegacyTaskSchema,
  entry_points: EntryPointsSchema,
  gpu_pool: z.string().regex(ENTRY_NAME).default('default'),
  /** The entry's own interpreter: absolute, or relative to its folder (`~` expanded); else the folder's `.venv`/`venv`, else `GF_PYTHON` (`activities/legacy/python.ts`). */
  python: pathText.optional(),
  collect: CollectSchema.default({ globs: DEFAULT_COLLECT_GLOBS, max_file_mb: DEFAULT_MAX_FILE_MB }),
  /** Metrics from stdout lines; `false` turns it off. */
  stdout_metrics: z.union([regexText, z.literal(false)]).default(DEFAULT_STDOUT_METRICS),
});

const entryName = z.string().regex(ENTRY_NAME, { error: (iss) => `expected an entry name of lowercase letters, digits, '-' or '_', got ${JSON.stringify(iss.input)}` });

export const LegacyRegistrySchema = z.strictObject({
  experiments: z.record(entryName, LegacyEntrySchema).default({}),
});

export type LegacyEntry = z.infer<typeof LegacyEntrySchema>;
export type LegacyEntryInput = z.input<typeof LegacyEntrySchema>;
export type LegacyRegistry = z.infer<typeof LegacyRegistrySchema>;
export type ArgsTemplate = z.infer<typeof ArgsTemplateSchema>;

/** The experiment types a legacy folder may have scripts for (the scenario's three). */
export const LEGACY_TYPES = Object.values(ExperimentType);
