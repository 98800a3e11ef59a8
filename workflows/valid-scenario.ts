import { ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { Scenario } from '../scenarios/schema';
import { checkScenario, formatIssues } from '../scenarios/validate';

/** The scenario a workflow was given, checked again: plain `temporal workflow start` skips the CLI. */
export function validScenario(raw: unknown): Scenario {
  const checked = checkScenario(raw);
  if (checked.ok) return checked.scenario;
  throw ApplicationFailure.create({
    message: `invalid scenario\n${formatIssues(checked.issues)}`,
    type: FailureType.InvalidScenario,
    nonRetryable: true,
    details: [checked.issues],
  });
}
