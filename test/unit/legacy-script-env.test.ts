import { scriptEnvironment } from '../../activities/legacy/script-env';

describe('a wrapped script’s environment', () => {
  it('keeps MLflow, S3 and the rest of the worker’s environment but no Temporal credentials or connection', () => {
    const env = scriptEnvironment({
      PATH: '/usr/bin',
      MLFLOW_TRACKING_USERNAME: 'worker',
      MLFLOW_TRACKING_PASSWORD: 'mlflow-secret',
      AWS_SECRET_ACCESS_KEY: 's3-secret',
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_API_KEY: 'temporal-secret',
      TEMPORAL_TLS_CLIENT_KEY_DATA: '-----BEGIN PRIVATE KEY-----',
      TEMPORAL_GRPC_META_AUTHORIZATION: 'Bearer x',
      GF_TEMPORAL_NAMESPACE: 'vision',
    });
    expect(env).toEqual({ PATH: '/usr/bin', MLFLOW_TRACKING_USERNAME: 'worker', MLFLOW_TRACKING_PASSWORD: 'mlflow-secret', AWS_SECRET_ACCESS_KEY: 's3-secret', GF_TEMPORAL_NAMESPACE: 'vision' });
  });
});
