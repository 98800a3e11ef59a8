import { MlflowApiError, MlflowUnreachableError } from '../activities/tracking/mlflow-client';
import { CliError } from './cli-error';

/**
 * A server problem as the user's to fix: which server, and what to do. An MLflow that cannot be
 * reached (the stack is down, or MLFLOW_TRACKING_URI points elsewhere) and one that refuses the
 * credentials are plain messages, never a stack trace. Undefined for any other error. (Temporal's
 * is `connect()`'s own message in cli/temporal.ts.)
 */
export function serverError(err: unknown): CliError | undefined {
  if (err instanceof MlflowUnreachableError) return new CliError(`${err.message}; is the stack up? (gflow dev up, or set MLFLOW_TRACKING_URI)`, 1, { cause: err });
  if (err instanceof MlflowApiError && (err.status === 401 || err.status === 403)) return new CliError(err.message, 1, { cause: err });
  return undefined;
}
