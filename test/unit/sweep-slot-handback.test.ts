import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SweepSlot } from '../../common/contract';
import { standInScenario, standInTrain } from '../support/stand-in-train';

/**
 * A sweep trial's train job hands its GPU slot back the moment its executor ends with a result,
 * before its last metrics reach MLflow and before its activity completes (issue 12: no GPU second
 * waits for bookkeeping); a failed job keeps the slot, since its trial retries it.
 */

jest.setTimeout(60_000);

const SLOT: SweepSlot = { sweepId: 'gf/sweep/c/r-p/z/ppe-yolov8n-train-v1', index: 7 };
const scenario = standInScenario(3);

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-handback-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** The train activity on the stand-in executor, with metric delivery held until `deliver()`. */
function trainJob(env: NodeJS.ProcessEnv, sweepReachable = true) {
  const released: SweepSlot[] = [];
  let deliver!: () => void;
  const delivered = new Promise<void>((resolve) => (deliver = resolve));
  const train = standInTrain(workDir, {
    env,
    logMetrics: () => delivered,
    releaseSweepSlot: (slot) => (sweepReachable ? Promise.resolve(void released.push(slot)) : Promise.reject(new Error('Temporal unreachable'))),
  });
  const run = (input: { runId: string; sweepSlot?: SweepSlot }) => train(`${SLOT.sweepId}/trial-7`, { ...input, scenario });
  return { run, released, deliver };
}

it('a sweep trial’s job hands its slot back as its executor ends, while its last metrics are still on the way', async () => {
  const job = trainJob({});
  let finished = false;
  const result = job.run({ runId: 'b'.repeat(32), sweepSlot: SLOT }).finally(() => (finished = true));
  // the executor has ended, the metric stream still waits for MLflow, and the activity with it
  for (let waited = 0; job.released.length === 0 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  expect(job.released).toEqual([SLOT]);
  expect(finished).toBe(false);
  job.deliver();
  // the result says so: the trial does not signal its sweep a second time
  expect(await result).toEqual(expect.objectContaining({ epochsCompleted: 3, sweepSlotReleased: true }));
  expect(job.released).toEqual([SLOT]);
});

it('when the sweep cannot be told, the job still succeeds and leaves the release to its trial', async () => {
  const job = trainJob({}, false);
  job.deliver();
  const result = await job.run({ runId: 'e'.repeat(32), sweepSlot: SLOT });
  expect(result.epochsCompleted).toBe(3);
  expect(result.sweepSlotReleased).toBeUndefined();
});

it('a failed job keeps its slot (its trial retries it), and a job of no sweep has none to hand back', async () => {
  const failing = trainJob({ GF_FAKE_FAIL: 'data' });
  failing.deliver();
  await expect(failing.run({ runId: 'c'.repeat(32), sweepSlot: SLOT })).rejects.toThrow();
  expect(failing.released).toEqual([]);

  const single = trainJob({});
  single.deliver();
  const alone = await single.run({ runId: 'd'.repeat(32) });
  expect(alone.epochsCompleted).toBe(3);
  expect(alone.sweepSlotReleased).toBeUndefined();
  expect(single.released).toEqual([]);
});
