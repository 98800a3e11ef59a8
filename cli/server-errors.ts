import { isGrpcServiceError } from '@temporalio/client';
import { MlflowApiError, MlflowUnreachableError } from '../activities/tracking/mlflow-client';
import { plainText } from '../common/plain-text';
import { CliError } from './cli-error';

/** What a user does about a server that is down: the dev stack, or the variable that points elsewhere. */
const START = (variable: string) => `is the stack up? (gflow dev up, or set ${variable})`;

/** Node's codes for a server that cannot be reached at all. */
const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'];
const NETWORK_TEXT = new RegExp(`\\b(${NETWORK_CODES.join('|')})\\b`);

/** gRPC's DEADLINE_EXCEEDED (4) and UNAVAILABLE (14): a Temporal server that did not answer (down, or gone since the command connected). */
const TEMPORAL_UNREACHABLE = [4, 14];

/**
 * A server problem as the user's to fix: which server (MLflow, Temporal, S3), and what to do —
 * one line for the top-level handler of cli/gflow.ts, never a stack trace. MLflow unreachable,
 * refusing the credentials or answering an error (a 5xx, or a URL that is not MLflow); Temporal
 * gone after `connect()` (whose own message, in cli/temporal.ts, covers a server down from the
 * start); S3 unreachable or refusing (the AWS SDK's errors). Undefined for any other error.
 */
export function serverError(err: unknown): CliError | undefined {
  if (err instanceof MlflowUnreachableError) return new CliError(`${err.message}; ${START('MLFLOW_TRACKING_URI')}`, 1, { cause: err });
  if (err instanceof MlflowApiError && (err.status === 401 || err.status === 403)) return new CliError(err.message, 1, { cause: err });
  if (err instanceof MlflowApiError) return new CliError(`${oneLine(err.message)}; ${err.errorCode ? 'see the MLflow server log' : 'is MLFLOW_TRACKING_URI an MLflow server?'}`, 1, { cause: err });
  const temporal = causes(err).find((e) => isGrpcServiceError(e) && TEMPORAL_UNREACHABLE.includes(e.code));
  if (temporal) return new CliError(`Temporal unreachable (${oneLine(temporal.message)}); ${START('TEMPORAL_ADDRESS')}`, 1, { cause: err });
  const s3 = causes(err).find(isAwsSdkError);
  if (s3 && isNetworkError(s3)) return new CliError(`S3 unreachable (${oneLine(s3.message)}); ${START('GF_S3_ENDPOINT')}`, 1, { cause: err });
  if (s3) return new CliError(`S3 refused the request (${s3.name}: ${oneLine(s3.message)}); check GF_S3_ENDPOINT, GF_S3_BUCKET and the S3 credentials`, 1, { cause: err });
  return undefined;
}

/** The error and every `cause` under it: SDKs wrap the network error that says what happened. */
function causes(err: unknown): Error[] {
  const chain: Error[] = [];
  // duck-typed: an error made in another realm (a VM context, a test runner) is no `instanceof Error`
  for (let e = err; isErrorLike(e) && chain.length < 10; e = e.cause) chain.push(e);
  return chain;
}

function isErrorLike(value: unknown): value is Error {
  return typeof value === 'object' && value !== null && typeof (value as Error).message === 'string';
}

/** A connection that failed, by Node's code or, where the SDK re-wrapped the error, by its text. */
function isNetworkError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && NETWORK_CODES.includes(code)) || NETWORK_TEXT.test(err.message);
}

/** An error the AWS SDK threw: it stamps every one, network errors included, with `$metadata`. */
function isAwsSdkError(err: Error): boolean {
  return '$metadata' in err;
}

/** A server's message on one short line: HTML tags and colour codes out, whitespace folded. */
function oneLine(message: string): string {
  const text = plainText(message).replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
