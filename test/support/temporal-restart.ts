import type { Settings } from '../../common/settings';
import { devUp } from '../../stack/dev-stack';
import { runningProcess, stopProcess } from '../../stack/managed-process';
import { temporalServer } from '../../stack/servers';

/**
 * Stops the test stack's Temporal dev server and starts it again on the same SQLite file (the
 * stack's state folder), as an operator's restart would: what durability tests put running
 * workflows through. Workers and clients keep their connections, which reconnect.
 */
export async function restartTemporalServer(settings: Settings): Promise<void> {
  const temporal = await runningProcess(settings.stateDir, temporalServer(settings).name);
  if (!temporal) throw new Error(`no running Temporal dev server in ${settings.stateDir} to restart`);
  await stopProcess(settings.stateDir, temporal);
  // a real outage, not a blip: workers' polls and heartbeats fail for a while
  await new Promise((r) => setTimeout(r, 3000));
  await devUp(settings, { log: () => undefined });
}
