import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { Alias, type AliasMove, type ModelAliases } from '../../common/registry';
import { asTrackingActivity } from '../tracking/failures';
import { filterLiteral, type MlflowClient } from '../tracking/mlflow-client';

/** Registry activities on the control queue: read a model's aliases, apply a planned move. */
export function createRegistryActivities({ mlflow }: { mlflow: MlflowClient }) {
  return {
    async readAliases(input: { model: string }): Promise<ModelAliases> {
      return asTrackingActivity(async () => {
        const model = await mlflow.getRegisteredModel(input.model);
        if (!model) throw ApplicationFailure.create({ message: `no registered model named ${input.model}`, type: FailureType.RegistryMoveRefused, nonRetryable: true });
        const versions = (await mlflow.searchModelVersions(`name=${filterLiteral(input.model)}`)).map((v) => v.version);
        return { aliases: Object.fromEntries((model.aliases ?? []).map((a) => [a.alias, a.version])), versions };
      });
    },

    /** The champion's value of `metric` (from the run that made it), for the promotion gate. */
    async championMetric(input: { model: string; metric: string }): Promise<number | undefined> {
      return asTrackingActivity(async () => {
        if (!(await mlflow.getRegisteredModel(input.model))) return undefined;
        const champion = await mlflow.getModelVersionByAlias(input.model, Alias.champion);
        if (!champion?.run_id) return undefined;
        const run = await mlflow.getRun(champion.run_id);
        return run.data.metrics?.find((m) => m.key === input.metric)?.value;
      });
    },

    /** Sets then removes aliases; each step is idempotent, so a retry after a partial apply completes it. */
    async applyAliases(input: { model: string; move: AliasMove }): Promise<void> {
      return asTrackingActivity(async () => {
        for (const [alias, version] of Object.entries(input.move.set)) await mlflow.setAlias(input.model, alias, version);
        for (const alias of input.move.remove) await mlflow.deleteAlias(input.model, alias);
      });
    },
  };
}
