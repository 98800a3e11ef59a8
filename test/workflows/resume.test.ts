import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CONTROL_QUEUE, progressQuery, WorkflowType } from '../../common/contract';
import { workflowId } from '../../scenarios/naming';
import { createControlWorker } from '../../workers/control';
import type { singleRun } from '../../workflows/single-run';
import { startGpuWorkerProcess } from '../support/gpu-process';
import { connectStack, eventually, isAlive, syntheticDataset, trainScenario, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(10 * 60_000);

let stack: Stack;
let logDir: string;
const gpuWorkers: ChildProcess[] = [];

/** The GPU worker as its own process, on the test stack's host and work folder. */
async function startGpuWorker(name: string): Promise<ChildProcess> {
  const child = await startGpuWorkerProcess(logDir, name);
  gpuWorkers.push(child);
  return child;
}

beforeAll(async () => {
  stack = await connectStack();
  logDir = await mkdtemp(path.join(os.tmpdir(), 'gflow-resume-'));
});

afterAll(async () => {
  for (const child of gpuWorkers) if (child.exitCode === null) child.kill('SIGKILL');
  await stack?.close();
});

describe('a GPU worker killed during training (real ultralytics)', () => {
  it('resumes from the last reported checkpoint in the same run after the heartbeat times out', async () => {
    const dataYaml = await syntheticDataset(stack.settings, path.join(logDir, 'shapes'), { train: 32, val: 16, classes: ['helmet', 'vest', 'harness'] });
    const scenario = trainScenario({ version: 'resume', dataPath: dataYaml, epochs: 8 });
    const control = await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() });
    await control.runUntil(async () => {
      const first = await startGpuWorker('gpu-1');
      const handle = await stack.client.workflow.start<typeof singleRun>(WorkflowType.singleRun, {
        taskQueue: CONTROL_QUEUE,
        workflowId: workflowId(scenario),
        args: [{ scenario, gpuHeartbeatTimeout: '5s' }],
      });
      const progress = await eventually(async () => {
        const p = await handle.query(progressQuery);
        return p.training && p.training.epoch >= 3 ? p : undefined;
      }, 120_000, 'epoch 3');
      const executorPid = Number(await readFile(path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.pid'), 'utf8'));
      first.kill('SIGKILL');
      await once(first, 'exit');
      await startGpuWorker('gpu-2');

      const result = await handle.result();
      const run = await stack.mlflow.getRun(result.runId);
      expect(run.info.status).toBe('FINISHED');
      const steps = (await stack.mlflow.getMetricHistory(result.runId, 'det.box_loss')).map((m) => m.step);
      expect([...new Set(steps)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(steps.filter((s) => s === 1)).toHaveLength(1);
      const executorLog = await readFile(path.join(stack.settings.gpu.workDir, result.runId, 'executor.log'), 'utf8');
      expect(executorLog).toMatch(/Resuming training .*last\.pt from epoch [3-8]/);
      const events = (await handle.fetchHistory()).events!;
      const trainScheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train').map((e) => String(e.eventId));
      const trainStarted = events.filter((e) => trainScheduled.includes(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
      expect(trainStarted.map((e) => e.activityTaskStartedEventAttributes!.attempt)).toEqual([2]);
      expect(isAlive(executorPid)).toBe(false);
    });
  });
});
