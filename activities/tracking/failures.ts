import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/failure-types';
import { FilterValueError, MlflowApiError } from './mlflow-client';

/**
 * The one place where MLflow errors become activity failures: a refused request (4xx) will be
 * refused again, so it is non-retryable; outages and 5xx are left to the retry policy.
 */
export async function asTrackingActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if ((err instanceof MlflowApiError && !err.retryable) || err instanceof FilterValueError) {
      throw ApplicationFailure.create({ message: err.message, type: FailureType.TrackingRejected, nonRetryable: true, cause: err });
    }
    throw err;
  }
}
