import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { OPTIMIZER_EXPERIMENT } from '../../common/contract';
import { FailureType } from '../../common/failure-types';
import type { Settings } from '../../common/settings';
import { openFleetStore } from '../../fleet/store';
import { planAction, type PlannedAction } from '../../optimizer/action-scenario';
import { decide, type OptimizerState, type RuleDecision } from '../../optimizer/decide';
import { versionSummaries } from '../../fleet/select';
import { loadPolicyFile, PolicyFileError } from '../../optimizer/policy-loader';
import { durationMs, type OptimizerPolicy, type OptimizerRule } from '../../optimizer/policy-schema';
import { parseScenarioText, ScenarioFileError } from '../../scenarios/loader';
import { scenarioPriority } from '../../scenarios/pool-policy';
import { loadPoolPolicy, PoolPolicyError } from '../../scenarios/pool-policy-loader';
import type { PriorityLevel } from '../../scenarios/schema';
import { artifactKey, type ArtifactStore } from '../storage/artifact-location';
import { asTrackingActivity } from '../tracking/failures';
import type { MlflowClient } from '../tracking/mlflow-client';

/**
 * The optimizer's reads, on the control queue. The fleet snapshot is every run of every site, too
 * big for workflow history, so one check is decided here (decide is pure: a retry decides the
 * same for the same `now` and state) and only the decisions go back to the workflow.
 *
 * Durable state is read back, never kept in a process: cooldowns from the recorded checks in
 * MLflow's `optimizer` experiment (tag STARTED_TAG of each check run; MLflow keeps them past
 * Temporal's retention), in-flight actions from Temporal (running workflows whose id is an
 * action id). A worker or server restart loses neither.
 */

/** On each check run: JSON `{ "{rule}/{site}/{task}": epoch ms }` of the actions it started, written before it starts them. */
export const STARTED_TAG = 'optimizer.started';

/** `gf/optimizer/{rule}/{customer}/{region}-{plant}/{zone}/{task}/{window}`; a sweep's trials and a pipeline's stages add a part that is not a number. */
const ACTION_ID = /^gf\/optimizer\/[^/]+\/[^/]+\/[^/]+\/[^/]+\/[^/]+\/\d+$/;

export interface FleetDeps {
  settings: Settings;
  mlflow: MlflowClient;
  /** Lists running actions (a visibility query). */
  temporal: Client;
  s3: S3Client;
  store: ArtifactStore;
}

export interface OptimizerCheck {
  policy: OptimizerPolicy;
  /** The durable state the decisions were made with (read back from MLflow and Temporal). */
  state: OptimizerState;
  decisions: RuleDecision[];
}

export function createFleetActivities(deps: FleetDeps) {
  const { mlflow } = deps;
  return {
    /** Reads the policy file, the durable state and the fleet, and decides one check at `now`. */
    async optimizerCheck(input: { policyFile: string; now: number }): Promise<OptimizerCheck> {
      const policy = await loadPolicyFile(input.policyFile).catch((err: unknown) => {
        if (err instanceof PolicyFileError) throw ApplicationFailure.create({ message: err.message, type: FailureType.InvalidPolicy, nonRetryable: true });
        throw err;
      });
      const state = await asTrackingActivity(() => readOptimizerState(deps, policy, input.now));
      const { snapshot } = await asTrackingActivity(() => openFleetStore(deps.settings, mlflow).refresh());
      return { policy, state, decisions: decide(snapshot, policy, state, input.now) };
    },

    /**
     * A registered version's fleet numbers (its producer's metrics overlaid by its latest finished
     * benchmark's, as `gflow metrics summary` shows them): what a guarded promotion's soak watches.
     * Null for a metric not measured (yet).
     */
    async versionMetrics(input: { model: string; version: string; metrics: string[] }): Promise<Record<string, number | null>> {
      const { snapshot } = await asTrackingActivity(() => openFleetStore(deps.settings, mlflow).refresh());
      const record = snapshot.models.find((m) => m.name === input.model && m.version === input.version);
      const metrics = record ? versionSummaries(snapshot)(record).metrics : {};
      return Object.fromEntries(input.metrics.map((key) => [key, (metrics as Record<string, number | undefined>)[key] ?? null]));
    },

    /** The scenario of a `started` decision: the champion's recorded scenario with the rule's changes, and the Temporal priority it starts with (the pool policy of this host). */
    async actionScenario(input: { rule: OptimizerRule; decision: RuleDecision; checkRunId: string; priority?: PriorityLevel }): Promise<PlannedAction> {
      const { decision } = input;
      const champion = decision.champion!;
      const version = await asTrackingActivity(() => mlflow.getModelVersion(champion.name, champion.version));
      const runId = version?.run_id;
      if (!runId) throw refused(`champion ${champion.name} v${champion.version} has no training run to read its scenario from`);
      const run = await asTrackingActivity(() => mlflow.getRun(runId));
      const where = `runs:/${runId}/config/scenario.yaml`;
      const text = await readArtifact(deps, run.info.artifact_uri, 'config/scenario.yaml');
      if (text === undefined) throw refused(`champion ${champion.name} v${champion.version}: ${where} was not recorded, so there is no scenario to start the action from`);
      const pool = await loadPoolPolicy().catch((err: unknown) => {
        if (err instanceof PoolPolicyError) throw ApplicationFailure.create({ message: err.message, type: FailureType.InvalidPolicy, nonRetryable: true });
        throw err;
      });
      try {
        const planned = planAction(parseScenarioText(text, where), input.rule, { workflowId: decision.workflowId!, checkRunId: input.checkRunId, championRunId: runId, priority: input.priority });
        return { ...planned, priority: scenarioPriority(planned.scenario, pool) };
      } catch (err) {
        if (err instanceof ScenarioFileError) throw refused(err.message);
        throw refused(`${input.rule.name}: the action's scenario from ${where} is not valid: ${String(err)}`);
      }
    },
  };
}

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidScenario, nonRetryable: true });
}

/** The optimizer's durable state at `now`, read back (`gflow optimize check` shows decisions with it too). */
export async function readOptimizerState(deps: Pick<FleetDeps, 'mlflow' | 'temporal'>, policy: OptimizerPolicy, now: number): Promise<OptimizerState> {
  return { cooldowns: await recordedCooldowns(deps.mlflow, policy, now), inFlight: await runningActions(deps.temporal) };
}

/**
 * Per action key, when its last action started: the STARTED_TAG of every check run recorded within
 * the policy's longest cooldown of `now` (older ones cannot hold a cooldown any more).
 */
async function recordedCooldowns(mlflow: MlflowClient, policy: OptimizerPolicy, now: number): Promise<Record<string, number>> {
  const experiment = await mlflow.getExperimentByName(OPTIMIZER_EXPERIMENT);
  if (!experiment) return {};
  const longest = Math.max(...policy.rules.map((r) => durationMs(r.cooldown)));
  const runs = await mlflow.searchRuns({ experimentIds: [experiment.experiment_id], filter: `attributes.start_time > ${now - longest}` });
  const cooldowns: Record<string, number> = {};
  for (const run of runs) {
    const tag = run.data.tags?.find((t) => t.key === STARTED_TAG)?.value;
    if (!tag) continue;
    for (const [key, at] of Object.entries(JSON.parse(tag) as Record<string, number>)) cooldowns[key] = Math.max(cooldowns[key] ?? 0, at);
  }
  return cooldowns;
}

/** Action workflows still running, by id. */
async function runningActions(temporal: Client): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of temporal.workflow.list({ query: `WorkflowId STARTS_WITH 'gf/optimizer/' AND ExecutionStatus = 'Running'` })) {
    if (ACTION_ID.test(wf.workflowId)) ids.push(wf.workflowId);
  }
  return ids.sort();
}

/** An artifact's text, or undefined when the run has no such artifact. */
async function readArtifact({ s3, store }: FleetDeps, artifactUri: string, artifactPath: string): Promise<string | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: artifactKey(store, artifactUri, artifactPath) }));
    return await object.Body!.transformToString('utf8');
  } catch (err) {
    if (err instanceof NoSuchKey) return undefined;
    throw err;
  }
}
