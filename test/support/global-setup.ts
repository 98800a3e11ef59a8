import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { loadSettings } from '../../common/settings';
import { buildIdOf } from '../../common/worker-deployment';
import { devUp } from '../../stack/dev-stack';
import { TEST_STACK_ENV } from './test-stack-env';

/**
 * Starts the real stack (Temporal, SeaweedFS, MLflow) for the whole test run. A server that
 * is missing or does not come up fails the run here, with the server's name and log file.
 */
export default async function globalSetup(): Promise<void> {
  Object.assign(process.env, TEST_STACK_ENV);
  // one build id for the whole run (a commit made meanwhile does not split the test files' workers)
  process.env.GF_BUILD_ID ??= buildIdOf(loadSettings());
  const settings = loadSettings();
  execFileSync(settings.python, [path.join(__dirname, '../../executors/offline_setup.py'), settings.gpu.yoloConfigDir], { stdio: 'inherit' });
  await devUp(settings, { log: (line: string) => process.stderr.write(`[test stack] ${line}\n`) });
}
