import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { StepMetrics } from '../../activities/tracking/activities';
import type { TrainingProgress } from '../../common/contract';
import { standInScenario, standInTrain } from '../support/stand-in-train';

/**
 * A long training must not grow its workflow's history by one signal per epoch: the train
 * activity (with the stand-in executor, no server) logs every epoch to MLflow but reports a
 * bounded number of epochs to the workflow.
 */

jest.setTimeout(60_000);

let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-progress-'));
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

it('a 300-epoch training logs 300 epochs to MLflow and reports 50 evenly spaced ones to its workflow', async () => {
  const logged: StepMetrics[] = [];
  const reported: { workflowId: string; progress: TrainingProgress }[] = [];
  const train = standInTrain(workDir, {
    logMetrics: (_runId, steps) => Promise.resolve(void logged.push(...steps)),
    reportProgress: (workflowId, progress) => Promise.resolve(void reported.push({ workflowId, progress })),
  });
  const result = await train('wf-long', { runId: 'a'.repeat(32), scenario: standInScenario(300) });

  expect(result.epochsCompleted).toBe(300);
  expect(logged.map((l) => l.step)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  expect(reported).toHaveLength(50);
  expect(reported.every((r) => r.workflowId === 'wf-long')).toBe(true);
  expect(reported.slice(0, 3).map((r) => r.progress.epoch)).toEqual([6, 12, 18]);
  expect(reported[49].progress).toEqual(expect.objectContaining({ epoch: 300, epochs: 300 }));
});
