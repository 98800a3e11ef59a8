import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { batchProgressQuery, pauseSignal, progressQuery, resumeSignal, setMaxRunsUpdate, type BatchProgress } from '../../common/contract';
import { buildProgram } from '../../cli/gflow';
import { startScenario } from '../../cli/start-run';
import type { Run } from '../../activities/tracking/mlflow-client';
import { registeredModelName, workflowId } from '../../scenarios/naming';
import { parseScenarioText } from '../../scenarios/loader';
import type { Scenario } from '../../scenarios/schema';
import type { sweep } from '../../workflows/sweep';
import { childRuns, metricsOf, artifactKeys, connectStack, eventually, isAlive, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(180_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

function sweepScenario(version: string, sweepBlock: string, training = 'epochs: 2, batch_size: 16, learning_rate: 0.01'): Scenario {
  return parseScenarioText(`
name: sweep-${version}
version: ${version}
type: train
design: sweep
site: { customer: sweep-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet, vest] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { ${training} }
sweep: ${sweepBlock}
`);
}

const start = (s: Scenario) => startScenario(stack.client, s) as unknown as Promise<WorkflowHandle<typeof sweep>>;

async function childrenOf(parentRunId: string): Promise<Run[]> {
  const runs = await childRuns(stack, parentRunId);
  return runs.sort((a, b) => Number(tagsOf(a)['sweep.index']) - Number(tagsOf(b)['sweep.index']));
}

/** Most intervals open at the same moment. */
function maxOverlap(intervals: [number, number][]): number {
  const edges = intervals.flatMap(([start, end]) => [
    [start, 1],
    [end, -1],
  ]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let most = 0;
  for (const [, delta] of edges) most = Math.max(most, (open += delta));
  return most;
}

/** When each trial's train activity ran (started → closed), from the trial workflows' histories: its GPU job. */
async function trainIntervals(id: string, trials: number): Promise<[number, number][]> {
  const intervals: [number, number][] = [];
  for (let i = 0; i < trials; i++) {
    const events = (await stack.client.workflow.getHandle(`${id}/trial-${i}`).fetchHistory()).events!;
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train')!;
    const isOf = (eventId: unknown) => String(eventId) === String(scheduled.eventId);
    const started = events.find((e) => isOf(e.activityTaskStartedEventAttributes?.scheduledEventId))!;
    const closed = events.find((e) => isOf(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? e.activityTaskFailedEventAttributes?.scheduledEventId))!;
    const ms = (e: typeof started) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    intervals.push([ms(started), ms(closed)]);
  }
  return intervals;
}

/** The worker identity (`pid@host`) that ran each trial's train activity. */
async function trainHosts(id: string, trials: number): Promise<string[]> {
  const hosts: string[] = [];
  for (let i = 0; i < trials; i++) {
    const history = await stack.client.workflow.getHandle(`${id}/trial-${i}`).fetchHistory();
    const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'train')!;
    const started = history.events!.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
    hosts.push(started.activityTaskStartedEventAttributes!.identity!.split('@')[1]);
  }
  return hosts;
}

describe('sweep workflow (real Temporal, MLflow, S3; stand-in executor)', () => {
  it('grid over two GPU hosts: nested trial runs, best by metric, results table and chart, best registered', async () => {
    const scenario = sweepScenario('grid', '{ parameters: { learning_rate: [0.001, 0.01], batch_size: [8, 16] }, strategy: grid, parallel: 2, metric: det.mAP50_95 }');
    const result = await withFakeGpu(stack, { bundle, hosts: 2, slots: 1, env: { GF_FAKE_EPOCH_SECONDS: '0.3' } }, async () => (await start(scenario)).result());

    expect(result).toEqual(expect.objectContaining({ total: 4, done: 4, failed: 0, stopped: 0 }));
    expect(result.best?.params).toEqual({ learning_rate: 0.01, batch_size: 16 });

    const parent = await stack.mlflow.getRun(result.runId);
    expect(parent.info.status).toBe('FINISHED');
    expect(parent.info.run_name).toBe('ppe-yolov8n-sweep-grid');
    expect(tagsOf(parent)).toEqual(expect.objectContaining({ 'exp.design': 'sweep', 'sweep.strategy': 'grid', 'sweep.total_runs': '4', 'best.run_id': result.best!.runId }));
    expect(JSON.parse(tagsOf(parent)['best.params'])).toEqual({ learning_rate: 0.01, batch_size: 16 });
    expect(JSON.parse(paramsOf(parent)['sweep.parameters'])).toEqual({ learning_rate: [0.001, 0.01], batch_size: [8, 16] });
    expect(metricsOf(parent)).toEqual(expect.objectContaining({ 'best.det.mAP50_95': result.best!.value, 'sweep.completed': 4, 'sweep.failed': 0 }));
    expect(await artifactKeys(stack.settings, parent.info.artifact_uri)).toEqual(expect.arrayContaining(['results.csv', 'sweep_chart.png']));

    const children = await childrenOf(result.runId);
    expect(children.map((r) => tagsOf(r)['sweep.index'])).toEqual(['0', '1', '2', '3']);
    for (const child of children) {
      expect(child.info.status).toBe('FINISHED');
      expect(tagsOf(child)['mlflow.parentRunId']).toBe(result.runId);
    }
    // grid order, written out (not computed by the code under test): first parameter slowest
    expect(children.map((r) => [paramsOf(r).learning_rate, paramsOf(r).batch_size])).toEqual([
      ['0.001', '8'],
      ['0.001', '16'],
      ['0.01', '8'],
      ['0.01', '16'],
    ]);
    const best = children.reduce((a, b) => (metricsOf(a)['det.mAP50_95'] >= metricsOf(b)['det.mAP50_95'] ? a : b));
    expect(best.info.run_id).toBe(result.best!.runId);
    // trials are prepared ahead (their runs open early), but never more than `parallel` GPU jobs run at once
    expect(maxOverlap(await trainIntervals(workflowId(scenario), 4))).toBe(2);
    expect(new Set(await trainHosts(workflowId(scenario), 4)).size).toBe(2);

    const listed = [];
    for await (const w of stack.client.workflow.list({ query: `GfSite = 'sweep-co/ci-lab/bench' AND GfTask = 'ppe' AND GfDesign = 'sweep' AND GfType = 'train'` })) listed.push(w.workflowId);
    expect(listed).toContain(workflowId(scenario));

    const candidate = await stack.mlflow.getModelVersionByAlias(registeredModelName(scenario), 'candidate');
    expect(candidate?.run_id).toBe(result.best!.runId);
    expect(result.model?.version).toBe(candidate?.version);
  });

  it('random: the same seed gives the same trials in every sweep', async () => {
    const block = '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03], batch_size: [8, 16, 32] }, strategy: random, max_runs: 3, seed: 7, parallel: 3 }';
    const a = sweepScenario('rand-a', block, 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    const b = sweepScenario('rand-b', block, 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    const [ra, rb] = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.05' } }, async () => Promise.all([(await start(a)).result(), (await start(b)).result()]));
    const paramsByIndex = async (runId: string) => (await childrenOf(runId)).map((r) => ({ learning_rate: Number(paramsOf(r).learning_rate), batch_size: Number(paramsOf(r).batch_size) }));
    // seed 7's first three of the 12 combinations, written out (test/unit/sweep-trials.test.ts pins more orders)
    const expected = [
      { learning_rate: 0.001, batch_size: 8 },
      { learning_rate: 0.003, batch_size: 16 },
      { learning_rate: 0.03, batch_size: 32 },
    ];
    expect(await paramsByIndex(ra.runId)).toEqual(expected);
    expect(await paramsByIndex(rb.runId)).toEqual(expected);
  });

  it('a failed trial is recorded and the sweep goes on; with fail_fast it stops the sweep', async () => {
    const block = (failFast: boolean) => `{ parameters: { learning_rate: [0.001, 0.01, 0.1] }, parallel: 1, fail_fast: ${failFast} }`;
    const tolerant = sweepScenario('fail-tolerant', block(false), 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    const strict = sweepScenario('fail-fast', block(true), 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.05', GF_FAKE_FAIL_LR: '0.001' } }, async () => {
      const ok = await (await start(tolerant)).result();
      expect(ok).toEqual(expect.objectContaining({ total: 3, done: 2, failed: 1 }));
      const okChildren = await childrenOf(ok.runId);
      expect(okChildren.map((r) => r.info.status)).toEqual(['FAILED', 'FINISHED', 'FINISHED']);
      expect(metricsOf(await stack.mlflow.getRun(ok.runId))['sweep.failed']).toBe(1);

      const handle = await start(strict);
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('TrialFailed');
      expect(cause.message).toMatch(/trial 0 failed: .*dataset\.path/);
      const progress = await handle.query(batchProgressQuery);
      expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('FAILED');
      // trial 1, prepared ahead while trial 0 trained, is cancelled by fail_fast
      expect((await childrenOf(progress.runId!)).map((r) => r.info.status)).toEqual(['FAILED', 'KILLED']);
    });
  });

  it('median early stopping ends trials below the median of completed ones and reports the GPU time saved', async () => {
    const scenario = sweepScenario(
      'median',
      '{ parameters: { learning_rate: [0.01, 0.02, 0.005, 0.001] }, parallel: 1, early_stopping: { min_completed: 2, grace_epochs: 1 } }',
      'epochs: 4, batch_size: 16, learning_rate: 0.01',
    );
    const result = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '1' } }, async () => (await start(scenario)).result());
    expect(result).toEqual(expect.objectContaining({ done: 2, stopped: 2, failed: 0 }));
    expect(result.gpuSecondsSaved).toBeGreaterThan(2);
    const children = await childrenOf(result.runId);
    expect(children.map((r) => tagsOf(r)['sweep.stopped_early'])).toEqual([undefined, undefined, 'true', 'true']);
    expect(children.map((r) => r.info.status)).toEqual(['FINISHED', 'FINISHED', 'FINISHED', 'FINISHED']);
    for (const stopped of children.slice(2)) expect(metricsOf(stopped)['train.epochs_completed']).toBeLessThan(4);
    const parent = await stack.mlflow.getRun(result.runId);
    expect(metricsOf(parent)['sweep.stopped_early']).toBe(2);
    expect(metricsOf(parent)['sweep.gpu_seconds_saved']).toBeCloseTo(result.gpuSecondsSaved, 3);
    expect(tagsOf(parent)['best.run_id']).toBe(children[0].info.run_id);
  });

  it('pause holds new trials, an update raises max_runs (never lowers it), resume finishes them all', async () => {
    const scenario = sweepScenario('pause', '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03, 0.1] }, strategy: random, max_runs: 2, parallel: 1 }', 'epochs: 2, batch_size: 16, learning_rate: 0.01');
    const result = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.3' } }, async () => {
      const handle = await start(scenario);
      await handle.signal(pauseSignal);
      await eventually(async () => {
        const p = await handle.query(batchProgressQuery);
        return p.phase === 'paused' && p.running === 0 ? p : undefined;
      });
      // a trial whose GPU job ended before the pause may still be recording; then nothing moves
      await new Promise((r) => setTimeout(r, 3000));
      const held = await handle.query(batchProgressQuery);
      await new Promise((r) => setTimeout(r, 2000));
      const later = await handle.query(batchProgressQuery);
      expect(later).toEqual(expect.objectContaining({ phase: 'paused', running: 0, done: held.done }));
      expect(later.done).toBeLessThan(2);

      expect(await handle.executeUpdate(setMaxRunsUpdate, { args: [4] })).toBe(4);
      await expect(handle.executeUpdate(setMaxRunsUpdate, { args: [1] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      expect((await handle.query(batchProgressQuery)).total).toBe(4);
      await handle.signal(resumeSignal);
      return handle.result();
    });
    expect(result).toEqual(expect.objectContaining({ total: 4, done: 4 }));
    expect(tagsOf(await stack.mlflow.getRun(result.runId))['sweep.total_runs']).toBe('4');
    expect(await childrenOf(result.runId)).toHaveLength(4);
  });

  it('cancel mid-sweep kills every running trial and leaves no run RUNNING', async () => {
    const scenario = sweepScenario('cancel', '{ parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03] }, parallel: 2 }', 'epochs: 50, batch_size: 16, learning_rate: 0.01');
    const id = workflowId(scenario);
    await withFakeGpu(stack, { bundle, hosts: 2, slots: 1, env: { GF_FAKE_EPOCH_SECONDS: '0.5' } }, async () => {
      const handle = await start(scenario);
      const trials = await eventually(async () => {
        const p: BatchProgress = await handle.query(batchProgressQuery);
        if (p.running < 2) return undefined;
        const runs = await Promise.all([0, 1].map((i) => stack.client.workflow.getHandle(`${id}/trial-${i}`).query(progressQuery)));
        return runs.every((r) => (r.training?.epoch ?? 0) >= 1) ? runs : undefined;
      });
      const pids = await Promise.all(trials.map(async (t) => Number(await readFile(path.join(stack.settings.gpu.workDir, t.runId!, 'executor.pid'), 'utf8'))));
      expect(pids.every(isAlive)).toBe(true);
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(pids.some(isAlive)).toBe(false);
      const progress = await handle.query(batchProgressQuery);
      expect(progress.phase).toBe('cancelled');
      expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('KILLED');
      const children = await childrenOf(progress.runId!);
      // the two training and the two prepared ahead
      expect(children.map((r) => r.info.status)).toEqual(['KILLED', 'KILLED', 'KILLED', 'KILLED']);
    });
  });

  it('gflow sweep: flags over a single-run file, progress while waiting, the best trial, then gflow status', async () => {
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'gflow-cli-sweep-')), 'base.yaml');
    await writeFile(file, `
name: cli
version: cli
type: train
site: { customer: sweep-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 1, batch_size: 16, learning_rate: 0.01 }
`);
    const printed: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args.join(' ')));
    try {
      await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.3' } }, async () => {
        await buildProgram(stack.settings).parseAsync(['node', 'gflow', 'sweep', file, '--no-check-files', '-p', 'learning_rate=[0.001,0.01]', '--parallel', '1', '--metric', 'det.mAP50', '--wait']);
        await buildProgram(stack.settings).parseAsync(['node', 'gflow', 'status', 'gf/sweep/sweep-co/ci-lab/bench/ppe-yolov8n-train-cli']);
      });
      await buildProgram(stack.settings).parseAsync(['node', 'gflow', 'status', 'gf/sweep/sweep-co/ci-lab/bench/ppe-yolov8n-train-cli']);
    } finally {
      log.mockRestore();
    }
    const output = printed.join('\n');
    expect(output).toMatch(/^started gf\/sweep\/sweep-co\/ci-lab\/bench\/ppe-yolov8n-train-cli$/m);
    expect(output).toMatch(/running: \[[#.]+\] \d\/2 running/);
    expect(output).toContain('sweep ppe-yolov8n-sweep-cli finished: 2 done, 0 failed, 0 stopped early of 2');
    expect(output).toMatch(/best: +trial 1 run [0-9a-f]{32} value 0\.8000 \{"learning_rate":0\.01\}/);
    expect(output).toContain('[####################] 2/2 trials; running 0, done 2, failed 0, stopped 0; best det.mAP50=0.8000 {"learning_rate":0.01}');
    expect(output.match(/sweep ppe-yolov8n-sweep-cli finished/g)).toHaveLength(2);
  });
});
