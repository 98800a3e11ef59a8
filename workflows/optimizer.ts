import { ApplicationFailure, ParentClosePolicy, patched, setCurrentDetails, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/common';
import { OPTIMIZER_EXPERIMENT, optimizerProgressQuery, WorkflowType, type OptimizerProgress } from '../common/contract';
import { FailureType } from '../common/failure-types';
import { optimizerActionMetadata, type UiLinks } from '../common/workflow-metadata';
import { actionKey, Decision, type RuleDecision } from '../optimizer/decide';
import type { PlannedAction } from '../optimizer/action-scenario';
import type { OptimizerRule } from '../optimizer/policy-schema';
import { runKey } from '../scenarios/naming';
import type { PriorityLevel } from '../scenarios/schema';
import { controlStorage, fleet, tracking } from './proxies';
import { optimizerCurrentDetails } from './current-details';
import { optimizerAction } from './optimizer-action';
import { endingRun } from './recorded-run';
import { singleRun } from './single-run';
import { sweep } from './sweep';

export interface OptimizerInput {
  /** The policy file (optimizer.yaml) on the control worker's host, read at every check: an edit applies from the next one. */
  policyFile: string;
  /** The UIs the Web UI's details link to (from the schedule creator's settings), handed on to the actions. */
  links?: UiLinks;
}

/** A decision as the check ended it: `started` ones that could not start are `failed` (with why) or `in_flight`. */
export type CheckedDecision = RuleDecision & { error?: string };

export interface OptimizerResult {
  checkRunId: string;
  dryRun: boolean;
  decisions: CheckedDecision[];
}

/**
 * The change that runs each action inside an `optimizerAction` (the action, then its candidates'
 * guarded promotions); checks recorded before it started the sweep or single run directly.
 */
const GUARDED_ACTIONS_PATCH = 'optimizer-guarded-actions';

/** On the check run, the child ids it started, comma-separated (decisions.json has every decision). */
const STARTED_IDS_TAG = 'optimizer.started_ids';

/**
 * One optimizer check (the Temporal Schedule `gf-optimizer` starts one per interval, never two at
 * once): decide over the fleet with the durable state (activities/fleet: cooldowns read back from
 * earlier checks' MLflow runs, in-flight actions from Temporal), record the check as a run of the
 * `optimizer` experiment, and start each `started` action as a child workflow under its
 * deterministic id, as an `optimizerAction` (the action, then each new candidate's guarded
 * promotion). REJECT_DUPLICATE makes a repeated or retried check unable to start an action
 * twice (the refusal is recorded as `in_flight`); ABANDON lets actions outlive the check.
 *
 * The cooldowns of the actions about to start are written to the check run before any starts, so
 * a check that dies half-way still holds their cooldowns. `dry_run: true` decides and records only.
 */
export async function optimizer(input: OptimizerInput): Promise<OptimizerResult> {
  if (typeof input?.policyFile !== 'string' || input.policyFile === '') {
    throw ApplicationFailure.create({ message: 'optimizer input: policyFile (the optimizer.yaml path) is required', type: FailureType.InvalidPolicy, nonRetryable: true });
  }
  const progress: OptimizerProgress = { phase: 'deciding', started: [] };
  setHandler(optimizerProgressQuery, () => progress);
  /** The Web UI's current details: the phase and the check's decisions as they stand. */
  let shown: CheckedDecision[] = [];
  let checkRun: { experimentId: string; runId: string } | undefined;
  const showDetails = (phase: OptimizerProgress['phase'], decisions = shown) => {
    progress.phase = phase;
    shown = decisions;
    setCurrentDetails(optimizerCurrentDetails(phase, decisions, checkRun, input.links));
  };
  const now = Date.now();
  try {
    showDetails('deciding');
    const check = await fleet.optimizerCheck.executeWithOptions({ summary: `decide over the fleet with ${input.policyFile}` }, [{ policyFile: input.policyFile, now }]);
    const { policy } = check;
    const info = workflowInfo();
    const experimentId = await tracking.ensureExperiment({ name: OPTIMIZER_EXPERIMENT });
    const run = await tracking.createRun({
      experimentId,
      runName: `check-${new Date(now).toISOString()}`,
      runKey: runKey(info.workflowId, info.firstExecutionRunId, 'check'),
      tags: { 'gf.workflow_id': info.workflowId, 'gf.temporal_run_id': info.firstExecutionRunId, 'optimizer.dry_run': String(policy.dry_run), 'optimizer.policy_file': input.policyFile },
      params: {
        'optimizer.rules': policy.rules.map((r) => r.name).join(','),
        'optimizer.max_concurrent': String(policy.max_concurrent),
        'optimizer.now': new Date(now).toISOString(),
        'optimizer.in_flight': check.state.inFlight.join(',') || '-',
      },
    });
    progress.checkRunId = run.runId;
    checkRun = { experimentId, runId: run.runId };
    showDetails('deciding', check.decisions);
    const decisions = await endingRun(run.runId, async () => {
      const toStart = policy.dry_run ? [] : check.decisions.filter((d) => d.decision === Decision.started);
      if (toStart.length > 0) await tracking.logBatch({ runId: run.runId, tags: { 'optimizer.started': startedTag(toStart, now) } });
      showDetails('starting');
      const outcomes = new Map<RuleDecision, CheckedDecision>();
      for (const d of toStart) {
        const rule = policy.rules.find((r) => r.name === d.rule)!;
        // absent from policies read before priorities (in replayed histories): the base scenario's priority stays
        const outcome = await startAction(d, rule, rule.priority ?? policy.priority, run.runId, input.links);
        outcomes.set(d, outcome);
        if (outcome.decision === Decision.started) progress.started.push(d.workflowId!);
      }
      const checked = check.decisions.map((d) => outcomes.get(d) ?? d);
      showDetails('recording', checked);
      // an action that did not start holds no cooldown: the next check tries it again
      const started = checked.filter((d) => d.decision === Decision.started && !policy.dry_run);
      await controlStorage.uploadText.executeWithOptions({ summary: `decisions.json of ${checked.length} decisions` }, [
        { artifactUri: run.artifactUri, artifactPath: 'decisions.json', content: JSON.stringify({ now, dryRun: policy.dry_run, state: check.state, decisions: checked }, null, 2) },
      ]);
      await tracking.logBatch({
        runId: run.runId,
        metrics: Object.fromEntries(Object.values(Decision).map((kind) => [`decisions.${kind}`, checked.filter((d) => d.decision === kind).length])),
        tags: {
          ...(toStart.length > 0 && { 'optimizer.started': startedTag(started, now) }),
          [STARTED_IDS_TAG]: started.map((d) => d.workflowId).join(',') || '-',
        },
      });
      return checked;
    });
    showDetails('finished', decisions);
    return { checkRunId: run.runId, dryRun: policy.dry_run, decisions };
  } catch (err) {
    showDetails('failed');
    throw err;
  }
}

/** `{ "{rule}/{site}/{task}": now }` of the actions started (see STARTED_TAG in activities/fleet). */
function startedTag(decisions: RuleDecision[], now: number): string {
  return JSON.stringify(Object.fromEntries(decisions.map((d) => [actionKey(d.rule, d.siteKey, d.task), now])));
}

/** Starts one action under its deterministic id; an id already used is `in_flight`, an unusable base scenario `failed`. */
async function startAction(d: RuleDecision, rule: OptimizerRule, priority: PriorityLevel | undefined, checkRunId: string, links: UiLinks | undefined): Promise<CheckedDecision> {
  let planned: PlannedAction;
  try {
    planned = await fleet.actionScenario.executeWithOptions({ summary: `plan ${rule.action.type} for ${d.siteKey} · ${d.task} from its champion's scenario` }, [{ rule, decision: d, checkRunId, priority }]);
  } catch (err) {
    return { ...d, decision: Decision.failed, error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
  }
  const options = {
    workflowId: d.workflowId!,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    // the action is its site's work at the policy's priority, not the optimizer's: set, not inherited
    ...(planned.priority && { priority: planned.priority }),
  };
  try {
    if (patched(GUARDED_ACTIONS_PATCH)) await startChild(optimizerAction, { ...options, ...optimizerActionMetadata(planned, rule, links), args: [{ planned, rule, links }] });
    else if (planned.workflowType === WorkflowType.sweep) await startChild(sweep, { ...options, args: [{ scenario: planned.scenario }] });
    else await startChild(singleRun, { ...options, args: [{ scenario: planned.scenario }] });
    return d;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { ...d, decision: Decision.inFlight };
    throw err;
  }
}
