import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { Design, Scenario } from '../scenarios/schema';
import { checkScenario, formatIssues } from '../scenarios/validate';

/**
 * The scenario a workflow was given, checked again (plain `temporal workflow start` skips the
 * CLI), and of the design this workflow runs.
 */
export function validScenario(raw: unknown, design: Design): Scenario {
  const checked = checkScenario(raw);
  if (checked.ok && checked.scenario.design === design) return checked.scenario;
  if (checked.ok) {
    const message = `${workflowInfo().workflowType} runs design: ${design} scenarios; got design: ${checked.scenario.design}`;
    throw ApplicationFailure.create({ message, type: FailureType.InvalidScenario, nonRetryable: true });
  }
  throw ApplicationFailure.create({
    message: `invalid scenario\n${formatIssues(checked.issues)}`,
    type: FailureType.InvalidScenario,
    nonRetryable: true,
    details: [checked.issues],
  });
}
