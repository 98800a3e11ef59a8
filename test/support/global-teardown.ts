import { rm } from 'node:fs/promises';
import { loadSettings } from '../../common/settings';
import { devDown } from '../../stack/dev-stack';

/** Stops the test stack; its state folder is removed unless GF_KEEP_TEST_STATE is set (for reading logs). */
export default async function globalTeardown(): Promise<void> {
  const settings = loadSettings();
  await devDown(settings, { log: (line) => process.stderr.write(`[test stack] ${line}\n`) });
  if (!process.env.GF_KEEP_TEST_STATE) await rm(settings.stateDir, { recursive: true, force: true });
}
