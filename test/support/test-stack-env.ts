import os from 'node:os';
import path from 'node:path';

/**
 * The test stack's ports are one block of eight from 27200 (SeaweedFS adds 10000 for its gRPC
 * ports). `GF_TEST_PORT_OFFSET` (a multiple of 10, below 1000; default 0) moves the whole block,
 * so two test runs on one machine never share a port.
 */
const offset = Number(process.env.GF_TEST_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset > 990 || offset % 10 !== 0) {
  throw new Error(`GF_TEST_PORT_OFFSET: expected a multiple of 10 from 0 to 990, got ${process.env.GF_TEST_PORT_OFFSET}`);
}
const port = (index: number) => String(27200 + offset + index);

const stateDir = process.env.GF_TEST_STATE_DIR ?? path.join(os.tmpdir(), `gflow-test-${process.pid}`);

/**
 * The test run's own stack: other ports and another state folder than `gflow dev`, so tests
 * run beside a developer's stack. Global setup exports these before any test file loads settings.
 * `TEMPORAL_CONFIG_FILE` names a file that is not there, so a developer's own `temporal.toml`
 * profile never points the tests at another server.
 */
export const TEST_STACK_ENV: Record<string, string> = {
  GF_STATE_DIR: stateDir,
  TEMPORAL_CONFIG_FILE: path.join(stateDir, 'no-temporal.toml'),
  GF_TEMPORAL_PORT: port(0),
  GF_TEMPORAL_UI_PORT: port(1),
  GF_MLFLOW_PORT: port(2),
  GF_S3_PORT: port(3),
  GF_WEED_MASTER_PORT: port(4),
  GF_WEED_VOLUME_PORT: port(5),
  GF_WEED_FILER_PORT: port(6),
  GF_FLEET_PORT: port(7),
  GF_S3_BUCKET: 'guardianflow-test',
  GF_GPU_HOST_ID: 'test-host',
};
