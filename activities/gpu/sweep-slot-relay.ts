import type { Client } from '@temporalio/client';
import { gpuPermitSignal, gpuReleasedSignal, gpuSuccessorQuery, sweepTrialId, type SweepSlot } from '../../common/contract';

/** How often a running job asks its trial for its successor: soon after it starts, then half as often each time, up to `maxMs`. */
export const SUCCESSOR_POLL = { firstMs: 1_000, maxMs: 30_000 };

/**
 * Hands a sweep trial's GPU slot on as its job's executor ends: to the waiting trial the sweep
 * designated, permitted directly by the job, then the sweep is told who has the slot now. The
 * sweep's workflow task, queued behind every other trial's events, is thus out of the gap between
 * two jobs; and so is the question to the trial: `watch` asks it while the job runs (the
 * designation usually comes soon after the job starts), so at the end the answer is at hand. A
 * designation heard before it was withdrawn is safe to act on: the sweep withdraws one only when
 * its trial was taken by a free slot (the permit is then a repeat, and the sweep takes the slot
 * back), ended (the permit goes nowhere) or the sweep paused (the trial is held). Without a
 * designation, or when the successor has gone, the slot goes back to the sweep.
 */
export function sweepSlotRelay(client: Client, poll = SUCCESSOR_POLL) {
  /** The successor last heard of, by slot. */
  const heard = new Map<string, number | null>();
  const keyOf = ({ sweepId, index }: SweepSlot) => `${sweepId}\u0000${index}`;
  const ask = ({ sweepId, index }: SweepSlot): Promise<number | null> =>
    client.workflow
      .getHandle(sweepTrialId(sweepId, index))
      .query(gpuSuccessorQuery)
      .catch(() => null);

  return {
    /** Asks the slot's trial for its successor now and then while its job runs; call the returned function when the job ends. */
    watch: (slot: SweepSlot): (() => void) => {
      const key = keyOf(slot);
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const next = (delayMs: number) => {
        timer = setTimeout(() => {
          void ask(slot).then((successor) => {
            if (stopped) return;
            heard.set(key, successor);
            next(Math.min(poll.maxMs, delayMs * 2));
          });
        }, delayMs);
      };
      next(poll.firstMs);
      return () => {
        stopped = true;
        clearTimeout(timer);
        heard.delete(key);
      };
    },

    /** Hands the slot on as the job's executor ends: to the successor heard of, else to the one the trial names now, else back to the sweep. */
    release: async (slot: SweepSlot): Promise<void> => {
      const known = heard.get(keyOf(slot));
      const successor = known ?? (await ask(slot));
      const handedTo =
        successor === null
          ? undefined
          : await client.workflow
              .getHandle(sweepTrialId(slot.sweepId, successor))
              .signal(gpuPermitSignal)
              .then(
                () => successor,
                () => undefined,
              );
      const sweep = client.workflow.getHandle(slot.sweepId);
      await (handedTo === undefined ? sweep.signal(gpuReleasedSignal, slot.index) : sweep.signal(gpuReleasedSignal, slot.index, handedTo));
    },
  };
}
