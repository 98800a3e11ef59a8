import type { Client } from '@temporalio/client';
import { gpuPermitSignal, gpuReleasedSignal, gpuSuccessorQuery, sweepTrialId, type SweepSlot } from '../../common/contract';

/**
 * Hands a sweep trial's GPU slot on as its job's executor ends (GpuDeps.releaseSweepSlot): to the
 * waiting trial the sweep designated, asked of this job's own trial (idle while its job runs) and
 * permitted directly, then the sweep is told who has the slot now. The sweep's workflow task,
 * queued behind every other trial's events, is thus out of the gap between two jobs. Without a
 * designation, or when the successor has gone, the slot goes back to the sweep as before.
 */
export function sweepSlotRelay(client: Client): (slot: SweepSlot) => Promise<void> {
  return async ({ sweepId, index }) => {
    const successor = await client.workflow
      .getHandle(sweepTrialId(sweepId, index))
      .query(gpuSuccessorQuery)
      .catch(() => null);
    const handedTo =
      successor === null
        ? undefined
        : await client.workflow
            .getHandle(sweepTrialId(sweepId, successor))
            .signal(gpuPermitSignal)
            .then(
              () => successor,
              () => undefined,
            );
    const sweep = client.workflow.getHandle(sweepId);
    await (handedTo === undefined ? sweep.signal(gpuReleasedSignal, index) : sweep.signal(gpuReleasedSignal, index, handedTo));
  };
}
