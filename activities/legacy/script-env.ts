/**
 * The environment a wrapped site script runs in: the GPU worker's own, less what gives access to
 * Temporal. A site's script talks to MLflow (ultralytics' callback logs into the wrapping run, with
 * the worker's MLflow credentials) and may read S3, but has no business with the cluster that runs
 * every site's workflows: its API key, mTLS key and extra gRPC headers stay with the worker.
 */
export function scriptEnvironment(workerEnv: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(workerEnv).filter(([name]) => !name.startsWith('TEMPORAL_')));
}
