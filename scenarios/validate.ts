import { z } from 'zod';
import { ScenarioSchema, type Scenario } from './schema';

/** One problem with a scenario, named by its field path (`model.input_size`). */
export interface ScenarioIssue {
  path: string;
  message: string;
}

export type ScenarioCheck = { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] };

/** The result of checking input against any schema, with issues in the scenario's words. */
export type SchemaCheck<T> = { ok: true; value: T } | { ok: false; issues: ScenarioIssue[] };

/** Validates a parsed scenario object; pure, so the workflow can run it on its own input too. */
export function checkScenario(input: unknown): ScenarioCheck {
  const checked = checkAgainst(ScenarioSchema, input);
  return checked.ok ? { ok: true, scenario: checked.value } : checked;
}

/** Validates input against a schema (a scenario, an optimizer policy), each issue worded as below. */
export function checkAgainst<S extends z.ZodType>(schema: S, input: unknown): SchemaCheck<z.infer<S>> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: result.error.issues.flatMap((issue) => toScenarioIssues(issue, input, schema)) };
}

/** Renders issues one per line, as the CLI and the `InvalidScenario` failure show them. */
export function formatIssues(issues: ScenarioIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(scenario)'}: ${i.message}`).join('\n');
}

/**
 * docs/architecture.md §5's form of an issue: what was expected and what was given
 * (`training.epochs: expected an integer, got string "10"`). zod's own texts say neither well, and
 * a value of the wrong type is not a missing one: only an absent key is "required".
 */
function toScenarioIssues(issue: z.core.$ZodIssue, input: unknown, root: z.ZodType): ScenarioIssue[] {
  const path = issue.path.map(String).join('.');
  const given = valueAt(input, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'unknown key' }));
    case 'invalid_type': {
      const expected = expectedType(issue.expected, schemaAt(root, issue.path));
      return [{ path, message: given.found ? `expected ${expected}, got ${describe(given.value)}` : `required (${expected})` }];
    }
    case 'invalid_value': {
      const expected = issue.values.length === 1 ? String(issue.values[0]) : `one of ${issue.values.map(String).join(', ')}`;
      return [{ path, message: given.found ? `expected ${expected}, got ${describe(given.value)}` : `required (${expected})` }];
    }
    case 'too_small':
    case 'too_big':
      return [{ path, message: isZodDefault(issue.message) ? boundMessage(issue, given.value) : issue.message }];
    case 'invalid_union':
      return [{ path, message: `expected ${unionExpectation(issue)}, got ${describe(given.value)}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

/** zod's built-in texts start this way; the schema's own messages (which already say what was given) are kept. */
function isZodDefault(message: string): boolean {
  return /^(Too small|Too big|Invalid)\b/.test(message);
}

function boundMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig, value: unknown): string {
  const small = issue.code === 'too_small';
  const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
  const bound = `${small ? 'at least' : 'at most'} ${String(limit)}`;
  const exclusive = issue.inclusive === false ? `${small ? 'more' : 'less'} than ${String(limit)}` : bound;
  if (issue.origin === 'array') return `expected ${bound} item${Number(limit) === 1 ? '' : 's'}, got ${Array.isArray(value) ? value.length : describe(value)}`;
  if (issue.origin === 'string') return `expected ${bound} character${Number(limit) === 1 ? '' : 's'}, got ${describe(value)}`;
  return `expected ${exclusive}, got ${describe(value)}`;
}

/** `a number, a string or a boolean` for the union of a sweep value. */
function unionExpectation(issue: z.core.$ZodIssueInvalidUnion): string {
  const expected = issue.errors.flatMap((branch) =>
    branch.filter((i) => i.code === 'invalid_type' && i.path.length === 0).map((i) => ((i as z.core.$ZodIssueInvalidType).expected === 'boolean' ? 'a boolean' : expectedType((i as z.core.$ZodIssueInvalidType).expected, undefined))),
  );
  if (expected.length !== issue.errors.length || expected.length === 0) return 'a valid value';
  const names = [...new Set(expected)];
  return names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

function expectedType(expected: string, schema: z.ZodType | undefined): string {
  if (expected === 'number' && schema instanceof z.ZodNumber && schema.isInt) return TYPE_NAMES.int;
  return TYPE_NAMES[expected] ?? expected;
}

/** The given value in words: `string "10"`, `number 2`, `a list`, `null`. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value;
}

/** The value at an issue's path in the input as given, and whether the key is there at all. */
function valueAt(input: unknown, path: PropertyKey[]): { found: boolean; value?: unknown } {
  let current = input;
  for (const key of path) {
    if (typeof current !== 'object' || current === null || typeof key === 'symbol' || !Object.hasOwn(current, key)) return { found: false };
    current = (current as Record<string, unknown>)[key];
  }
  return { found: true, value: current };
}

/** The schema of a field, through optional/default wrappers, pipes, lists and records; undefined past a union. */
function schemaAt(root: z.ZodType, path: PropertyKey[]): z.ZodType | undefined {
  let schema = unwrap(root);
  for (const key of path) {
    if (schema instanceof z.ZodObject) schema = unwrap((schema.shape as Record<string, z.ZodType>)[String(key)]);
    else if (schema instanceof z.ZodArray) schema = unwrap(schema.element as z.ZodType);
    else if (schema instanceof z.ZodRecord) schema = unwrap(schema.valueType as z.ZodType);
    else return undefined;
  }
  return schema;
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = (current.in instanceof z.ZodTransform ? current.out : current.in) as z.ZodType;
    else return current;
  }
}
