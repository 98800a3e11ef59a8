import { FailureType } from '../../common/failure-types';
import { ApplicationFailure } from '@temporalio/common';
import { asTrackingActivity } from './failures';
import { invalidKeys, splitLogBatch, toKeyValues, toMetrics, type LogBatch } from './log-batch';
import { filterLiteral, RunStatus, type MlflowClient } from './mlflow-client';
import { benchmarkTags, missingTags, versionTags } from './version-tags';

export interface TrackingDeps {
  mlflow: MlflowClient;
}

export interface CreateRunInput {
  experimentId: string;
  runName: string;
  /** Idempotency key (tag `gf.run_key`): a retried create finds this run instead of making a second. */
  runKey: string;
  tags: Record<string, string>;
  params: Record<string, string>;
}

export interface CreatedRun {
  runId: string;
  artifactUri: string;
  /** False when an earlier attempt had created it already. */
  created: boolean;
}

export interface LogBatchInput {
  runId: string;
  metrics?: Record<string, number>;
  step?: number;
  params?: Record<string, string>;
  tags?: Record<string, string>;
}

export interface RegisterModelInput {
  name: string;
  runId: string;
  source: string;
  alias: string;
  tags?: Record<string, string>;
}

export const RUN_KEY_TAG = 'gf.run_key';

/** MLflow activities for the control queue; every one is safe to retry. */
export function createTrackingActivities({ mlflow }: TrackingDeps) {
  return {
    async ensureExperiment(input: { name: string; tags?: Record<string, string> }): Promise<string> {
      return asTrackingActivity(() => mlflow.ensureExperiment(input.name, toKeyValues(input.tags ?? {})));
    },

    async createRun(input: CreateRunInput): Promise<CreatedRun> {
      return asTrackingActivity(async () => {
        const [existing] = await mlflow.searchRuns({
          experimentIds: [input.experimentId],
          filter: `tags.\`${RUN_KEY_TAG}\` = ${filterLiteral(input.runKey)}`,
          maxResults: 1,
        });
        const info =
          existing?.info ??
          (await mlflow.createRun({
            experimentId: input.experimentId,
            runName: input.runName,
            tags: toKeyValues({ ...input.tags, [RUN_KEY_TAG]: input.runKey }),
          }));
        await logAll(mlflow, { runId: info.run_id, params: input.params });
        return { runId: info.run_id, artifactUri: info.artifact_uri, created: !existing };
      });
    },

    async logBatch(input: LogBatchInput): Promise<void> {
      return asTrackingActivity(() => logAll(mlflow, input));
    },

    /**
     * Registers the run's model (reusing a version already made from the same run and source) and
     * points the alias at it. The version is created with the tags that describe it
     * (`version-tags.ts`, from the run, then the caller's `tags`); a retry that finds the version
     * sets only the tags it lacks, so none is lost or written twice.
     */
    async registerModel(input: RegisterModelInput): Promise<{ name: string; version: string; alias: string }> {
      return asTrackingActivity(async () => {
        await mlflow.ensureRegisteredModel(input.name);
        const tags = { ...versionTags(await mlflow.getRun(input.runId)), ...input.tags };
        const versions = await mlflow.searchModelVersions(`name=${filterLiteral(input.name)} and run_id=${filterLiteral(input.runId)}`);
        const existing = versions.find((v) => v.source === input.source);
        const version = existing ?? (await mlflow.createModelVersion({ name: input.name, source: input.source, runId: input.runId, tags: toKeyValues(tags) }));
        if (existing) {
          const present = (await mlflow.getModelVersion(input.name, existing.version))?.tags;
          for (const [key, value] of Object.entries(missingTags(tags, present))) await mlflow.setModelVersionTag(input.name, existing.version, key, value);
        }
        await mlflow.setAlias(input.name, input.alias, version.version);
        return { name: input.name, version: version.version, alias: input.alias };
      });
    },

    /** Tags a registered version with what its benchmark run measured (`benchmarkTags`); setting a tag again is a no-op, so it is safe to retry. */
    async tagBenchmarkedVersion(input: { name: string; version: string; runId: string }): Promise<void> {
      return asTrackingActivity(async () => {
        const tags = benchmarkTags(await mlflow.getRun(input.runId));
        for (const [key, value] of Object.entries(tags)) await mlflow.setModelVersionTag(input.name, input.version, key, value);
      });
    },

    async endRun(input: { runId: string; status: RunStatus }): Promise<void> {
      return asTrackingActivity(async () => {
        await mlflow.updateRun(input.runId, input.status, Date.now());
      });
    },
  };
}

/** One epoch's metrics at its step, as the train activity streams them. */
export interface StepMetrics {
  step: number;
  metrics: Record<string, number>;
}

/** Logs metrics, params and tags in as many requests as MLflow's limits need. */
export async function logAll(mlflow: MlflowClient, input: LogBatchInput): Promise<void> {
  await send(mlflow, input.runId, {
    metrics: toMetrics(input.metrics ?? {}, input.step ?? 0),
    params: toKeyValues(input.params ?? {}),
    tags: toKeyValues(input.tags ?? {}),
  });
}

/** Logs several epochs of one run together: one request for up to MLflow's 1,000 values. */
export async function logSteps(mlflow: MlflowClient, runId: string, steps: StepMetrics[]): Promise<void> {
  await send(mlflow, runId, { metrics: steps.flatMap((s) => toMetrics(s.metrics, s.step)), params: [], tags: [] });
}

async function send(mlflow: MlflowClient, runId: string, batch: LogBatch): Promise<void> {
  const bad = invalidKeys(batch);
  if (bad.length > 0) throw rejected(`keys MLflow would refuse: ${bad.join(', ')}`);
  for (const chunk of splitLogBatch(batch)) await mlflow.logBatch(runId, chunk);
}

function rejected(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.TrackingRejected, nonRetryable: true });
}

export { RunStatus };
