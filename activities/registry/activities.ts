import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { Alias, type AliasMove, type ModelAliases } from '../../common/registry';
import { asTrackingActivity } from '../tracking/failures';
import { filterLiteral, type MlflowClient } from '../tracking/mlflow-client';

export const ChampionKind = { none: 'none', missingMetric: 'missing-metric', value: 'value' } as const;

/** What the registry holds for the promotion gate: no champion, a champion without the gate's metric, or its value. */
export type ChampionMetric =
  | { kind: typeof ChampionKind.none }
  | { kind: typeof ChampionKind.missingMetric; version: string; available: string[] }
  | { kind: typeof ChampionKind.value; version: string; value: number };

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

    /**
     * The champion's value of `metric` (from the run that made it), for the promotion gate. "No
     * champion" and "a champion without this metric" are told apart: only the first lets a model
     * through unopposed. A read: a retry gives the same answer.
     */
    async championMetric(input: { model: string; metric: string }): Promise<ChampionMetric> {
      return asTrackingActivity(async () => {
        if (!(await mlflow.getRegisteredModel(input.model))) return { kind: ChampionKind.none };
        const champion = await mlflow.getModelVersionByAlias(input.model, Alias.champion);
        if (!champion) return { kind: ChampionKind.none };
        const metrics = champion.run_id ? ((await mlflow.getRun(champion.run_id)).data.metrics ?? []) : [];
        const value = metrics.find((m) => m.key === input.metric)?.value;
        if (value === undefined || !Number.isFinite(value)) {
          return { kind: ChampionKind.missingMetric, version: champion.version, available: [...new Set(metrics.map((m) => m.key))].sort() };
        }
        return { kind: ChampionKind.value, version: champion.version, value };
      });
    },

    /** Tags on one model version (a guarded promotion's state, who approved and why); setting a tag again is harmless. */
    async tagVersion(input: { model: string; version: string; tags: Record<string, string> }): Promise<void> {
      return asTrackingActivity(async () => {
        for (const [key, value] of Object.entries(input.tags)) await mlflow.setModelVersionTag(input.model, input.version, key, value);
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
