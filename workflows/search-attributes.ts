import { upsertSearchAttributes } from '@temporalio/workflow';
import { SearchAttr } from '../common/contract';
import { experimentName } from '../scenarios/naming';
import type { Scenario } from '../scenarios/schema';

/** Every GuardianFlow workflow carries its site, task, design and type, so the Web UI and `--query` filter by them. */
export function markWorkflow(scenario: Scenario): void {
  upsertSearchAttributes([
    { key: SearchAttr.site, value: experimentName(scenario) },
    { key: SearchAttr.task, value: scenario.task.type },
    { key: SearchAttr.design, value: scenario.design },
    { key: SearchAttr.type, value: scenario.type },
  ]);
}
