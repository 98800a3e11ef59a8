import { MlflowApiError, type DatasetInput, type MlflowClient } from './mlflow-client';
import { toKeyValues } from './log-batch';

/** An object-store dataset a job read, as the GPU host's cache checked it. */
export interface UsedDataset {
  uri: string;
  /** sha256 of its manifest. */
  sha256: string;
  /** `<customer>/<task>` and version as pushed. */
  name: string;
  version: string;
  files: number;
  bytes: number;
}

/** MLflow's `mlflow.data.context` of a job's dataset. */
export const DatasetContext = { training: 'training', evaluation: 'evaluation', calibration: 'calibration' } as const;
export type DatasetContext = (typeof DatasetContext)[keyof typeof DatasetContext];

/** MLflow stores a dataset digest of at most 36 characters: the manifest hash's first 32 hex digits (128 bits). */
const DIGEST_LENGTH = 32;

/** The dataset as MLflow's dataset input: source type `s3` with `{"uri": …}`, as MLflow's own S3 dataset source writes it. */
export function datasetInput(dataset: UsedDataset, context: DatasetContext): DatasetInput {
  return {
    dataset: {
      name: `${dataset.name}@${dataset.version}`,
      digest: dataset.sha256.slice(0, DIGEST_LENGTH),
      source_type: 's3',
      source: JSON.stringify({ uri: dataset.uri }),
      profile: JSON.stringify({ files: dataset.files, bytes: dataset.bytes, manifest_sha256: dataset.sha256 }),
    },
    tags: toKeyValues({ 'mlflow.data.context': context }),
  };
}

/** Tags `data.uri` and `data.sha256` and the dataset input on the run; both idempotent, so retried jobs record it again safely. */
export async function recordDataset(mlflow: MlflowClient, runId: string, dataset: UsedDataset, context: DatasetContext): Promise<void> {
  await mlflow.logBatch(runId, { tags: toKeyValues({ 'data.uri': dataset.uri, 'data.sha256': dataset.sha256 }) });
  const input = datasetInput(dataset, context);
  await mlflow.logInputs(runId, [input]).catch(async (err: unknown) => {
    // MLflow reads, then inserts the experiment's dataset: two jobs of one experiment at once (a
    // sweep's trials) race, and the loser gets 400 with the database's unique-key error. Once more
    // finds the dataset the winner wrote.
    if (!(err instanceof MlflowApiError && err.status === 400 && /IntegrityError|UNIQUE constraint|duplicate key/i.test(err.message))) throw err;
    await mlflow.logInputs(runId, [input]);
  });
}
