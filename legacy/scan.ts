import { isMap, isScalar, parse, parseDocument, stringify } from 'yaml';
import { TaskType } from '../scenarios/schema';
import { UNKNOWN_TASK, type LegacyEntryInput } from './schema';

/** One folder as `gflow scan` sees it: its name, absolute path and the files directly inside. */
export interface ScannedFolder {
  name: string;
  path: string;
  files: string[];
}

/**
 * The seeds' heuristics (scan_and_generate_registry): which script names mean which experiment type.
 * The first type whose words a file name contains wins, in this order (a `train_eval.py` trains).
 */
const TYPE_WORDS: { type: 'train' | 'infer' | 'quant'; words: string[] }[] = [
  { type: 'train', words: ['train', '학습'] },
  { type: 'infer', words: ['infer', 'eval', 'bench', 'test', 'val', '추론'] },
  { type: 'quant', words: ['quant', 'export', 'openvino', 'tensorrt', 'onnx', '양자화'] },
];

const TASKS: readonly string[] = Object.values(TaskType);

/** The registry entry name of a folder: its name as a slug (`Donghwa Entec-PPE` → `donghwa-entec-ppe`). */
export function entryNameOf(folder: string): string {
  return folder.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '') || 'unknown';
}

/** `donghwa-entec-fall` → customer `donghwa-entec`, task `fall`; a last part that is no task leaves the task unknown. */
export function siteFromFolderName(folder: string): { customer: string; task: string } {
  const slug = entryNameOf(folder);
  const cut = slug.lastIndexOf('-');
  const last = cut > 0 ? slug.slice(cut + 1) : '';
  return TASKS.includes(last) ? { customer: slug.slice(0, cut), task: last } : { customer: slug, task: UNKNOWN_TASK };
}

/** The type a script name suggests, or undefined for helpers (`utils.py`). */
export function scriptType(file: string): 'train' | 'infer' | 'quant' | undefined {
  const name = file.toLowerCase();
  if (!name.endsWith('.py')) return undefined;
  return TYPE_WORDS.find((t) => t.words.some((w) => name.includes(w)))?.type;
}

/**
 * A draft entry for a folder. Where several scripts suggest one type, the last in name order is the
 * default (`train_v2.py` over `train_v1.py`); the others stay runnable with `--script`. Region,
 * plant and zone are the seeds' placeholders, to be filled in by hand.
 */
export function draftEntry(folder: ScannedFolder): LegacyEntryInput {
  const { customer, task } = siteFromFolderName(folder.name);
  const defaults: Partial<Record<'train' | 'infer' | 'quant', string>> = {};
  for (const file of [...folder.files].sort()) {
    const type = scriptType(file);
    if (type) defaults[type] = file;
  }
  // in the order of TYPE_WORDS (train, infer, quant), whatever the file names' order
  const entryPoints: LegacyEntryInput['entry_points'] = Object.fromEntries(TYPE_WORDS.flatMap(({ type }) => (defaults[type] ? [[type, { default: defaults[type] }]] : [])));
  return {
    path: folder.path,
    site: { customer, region: 'unknown', plant: 'plant1', zone: 'full' },
    task: { type: task as LegacyEntryInput['task']['type'], classes: [] },
    entry_points: entryPoints,
  };
}

export interface MergeResult {
  /** The registry text to write: the existing file with only new entries appended (comments kept). */
  text: string;
  added: string[];
  kept: string[];
  /** The lines `gflow scan` prints: `+` new entries with their fields, `=` entries left as written. */
  diff: string[];
}

/**
 * Merges drafts into an existing registry without touching what is there: an entry whose name or
 * folder is already listed is kept exactly as written (hand edits, comments); only new folders are
 * added. `existingText` may be empty (no file yet).
 */
export function mergeDrafts(existingText: string, folders: ScannedFolder[], samePath: (a: string, b: string) => boolean = (a, b) => a === b): MergeResult {
  const listed = (parse(existingText) ?? {}) as { experiments?: Record<string, { path?: string } | null> | null };
  const existing: [string, { path?: string } | null][] = Object.entries(listed.experiments ?? {});
  const drafts: Record<string, LegacyEntryInput> = {};
  const added: string[] = [];
  const kept: string[] = [];
  const diff: string[] = [];
  for (const folder of folders) {
    const name = entryNameOf(folder.name);
    const match = existing.find(([n, e]) => n === name || (e?.path !== undefined && samePath(e.path, folder.path)));
    if (match) {
      kept.push(match[0]);
      diff.push(`= ${match[0]} (kept as written)`);
      continue;
    }
    const draft = draftEntry(folder);
    drafts[name] = draft;
    existing.push([name, draft]);
    added.push(name);
    diff.push(`+ ${name}:`, ...stringify(draft).trimEnd().split('\n').map((l) => `+   ${l}`));
  }
  return { text: added.length === 0 ? existingText : withDrafts(existingText, drafts), added, kept, diff };
}

/**
 * The registry text with new entries: appended as text under a block `experiments:` that ends the
 * file, so every existing byte stays as written; any other layout goes through the YAML document
 * (comments kept, formatting possibly normalised).
 */
function withDrafts(existingText: string, drafts: Record<string, LegacyEntryInput>): string {
  if (existingText.trim() === '') return stringify({ experiments: drafts });
  const doc = parseDocument(existingText);
  const top = doc.contents;
  const experiments = doc.get('experiments', true);
  const last = isMap(top) ? top.items[top.items.length - 1] : undefined;
  const lastKey = last && isScalar(last.key) ? last.key.value : undefined;
  const indent = /^experiments:[ \t]*(?:#.*)?\n(?:[ \t]*(?:#.*)?\n)*([ \t]+)\S/m.exec(existingText)?.[1];
  if (isMap(experiments) && !experiments.flow && lastKey === 'experiments' && indent) {
    const block = stringify(drafts).trimEnd().split('\n').map((l) => indent + l).join('\n');
    return `${existingText.endsWith('\n') ? existingText : `${existingText}\n`}${block}\n`;
  }
  if (!isMap(experiments)) doc.set('experiments', doc.createNode({}));
  for (const [name, draft] of Object.entries(drafts)) doc.setIn(['experiments', name], doc.createNode(draft));
  return doc.toString();
}
