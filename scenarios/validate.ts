import type { z } from 'zod';
import { ScenarioSchema, type Scenario } from './schema';

/** One problem with a scenario, named by its field path (`model.input_size`). */
export interface ScenarioIssue {
  path: string;
  message: string;
}

export type ScenarioCheck = { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] };

/** Validates a parsed scenario object; pure, so the workflow can run it on its own input too. */
export function checkScenario(input: unknown): ScenarioCheck {
  const result = ScenarioSchema.safeParse(input);
  if (result.success) return { ok: true, scenario: result.data };
  return { ok: false, issues: result.error.issues.flatMap(toScenarioIssues) };
}

/** Renders issues one per line, as the CLI and the `InvalidScenario` failure show them. */
export function formatIssues(issues: ScenarioIssue[]): string {
  return issues.map((i) => `  - ${i.path || '(scenario)'}: ${i.message}`).join('\n');
}

function toScenarioIssues(issue: z.core.$ZodIssue): ScenarioIssue[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'unknown key' }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return [{ path, message: `required (${issue.expected})` }];
  }
  return [{ path, message: issue.message }];
}
