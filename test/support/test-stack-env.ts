import os from 'node:os';
import path from 'node:path';

/** `GF_TEST_PORT_OFFSET` (default 0) moves every test port, so two test runs can share a machine. */
const offset = Number(process.env.GF_TEST_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset > 3000) throw new Error(`GF_TEST_PORT_OFFSET: expected an integer 0..3000, got ${process.env.GF_TEST_PORT_OFFSET}`);
const port = (base: number) => String(base + offset);

/**
 * The test run's own stack: other ports and another state folder than `gflow dev`, so tests
 * run beside a developer's stack. Global setup exports these before any test file loads settings.
 */
export const TEST_STACK_ENV: Record<string, string> = {
  GF_STATE_DIR: process.env.GF_TEST_STATE_DIR ?? path.join(os.tmpdir(), `gflow-test-${process.pid}`),
  GF_TEMPORAL_PORT: port(27233),
  GF_TEMPORAL_UI_PORT: port(28233),
  GF_MLFLOW_PORT: port(25000),
  GF_S3_PORT: port(28333),
  GF_WEED_MASTER_PORT: port(29333),
  GF_WEED_VOLUME_PORT: port(28080),
  GF_WEED_FILER_PORT: port(28888),
  GF_S3_BUCKET: 'guardianflow-test',
  GF_GPU_HOST_ID: 'test-host',
};
