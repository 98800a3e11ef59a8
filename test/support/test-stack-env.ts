import os from 'node:os';
import path from 'node:path';

/**
 * The test run's own stack: other ports and another state folder than `gflow dev`, so tests
 * run beside a developer's stack. Global setup exports these before any test file loads settings.
 */
export const TEST_STACK_ENV: Record<string, string> = {
  GF_STATE_DIR: process.env.GF_TEST_STATE_DIR ?? path.join(os.tmpdir(), `gflow-test-${process.pid}`),
  GF_TEMPORAL_PORT: '27233',
  GF_TEMPORAL_UI_PORT: '28233',
  GF_MLFLOW_PORT: '25000',
  GF_S3_PORT: '28333',
  GF_WEED_MASTER_PORT: '29333',
  GF_WEED_VOLUME_PORT: '28080',
  GF_WEED_FILER_PORT: '28888',
  GF_S3_BUCKET: 'guardianflow-test',
  GF_GPU_HOST_ID: 'test-host',
};
