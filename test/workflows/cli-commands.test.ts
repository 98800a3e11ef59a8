import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CancelledFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { batchProgressQuery, progressQuery, type BatchProgress } from '../../common/contract';
import { startScenario } from '../../cli/start-run';
import { parseScenarioText } from '../../scenarios/loader';
import { workflowId } from '../../scenarios/naming';
import type { sweep } from '../../workflows/sweep';
import { childRuns, connectStack, eventually, isAlive, metricsOf, paramsOf, tagsOf, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { gflow, temporalCli } from '../support/cli';
import { aliasesOf, artifactText, csvBool, parseCsv } from '../support/records';

jest.setTimeout(180_000);

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let dir: string;

beforeAll(async () => {
  stack = await connectStack();
  bundle = await workflowBundle();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-cli-'));
});

afterAll(async () => {
  await stack?.close();
});

/** A single-run train scenario file for the stand-in executor (its dataset is never read: --no-check-files). */
async function scenarioFile(version: string, training: string): Promise<string> {
  const file = path.join(dir, `${version}.yaml`);
  await writeFile(
    file,
    `
name: cli-${version}
version: ${version}
type: train
site: { customer: cli-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { ${training} }
`,
  );
  return file;
}

const idOf = async (file: string) => workflowId(parseScenarioText(await readFile(file, 'utf8')));
const runIdIn = (stdout: string) => /run id:\s+([0-9a-f]{32})/.exec(stdout)?.[1];

/** The sweep's progress, once it matches. */
const progressWhen = (id: string, match: (p: BatchProgress) => boolean) =>
  eventually(async () => {
    const p = await stack.client.workflow.getHandle(id).query(batchProgressQuery);
    return match(p) ? p : undefined;
  }, 30_000, `${id} progress`);

describe('bin/gflow and the plain Temporal CLI against the test stack (stand-in executor)', () => {
  it('run twice is refused, --rerun makes a new MLflow run; promote and rollback move the aliases', async () => {
    const file = await scenarioFile('rerun', 'epochs: 1, batch_size: 16, learning_rate: 0.01');
    const id = await idOf(file);
    const model = 'cli-co.ci-lab.bench.ppe';
    await withFakeGpu(stack, { bundle }, async () => {
      const first = await gflow(stack.settings, ['run', file, '--no-check-files', '--wait']);
      expect(first).toEqual(expect.objectContaining({ code: 0, stderr: '' }));
      expect(first.stdout).toContain(`started ${id}`);
      const firstRunId = runIdIn(first.stdout)!;

      const again = await gflow(stack.settings, ['run', file, '--no-check-files']);
      expect(again.code).toBe(1);
      expect(again.stderr.trim()).toBe(`gflow: ${id} already ran or is running; see: gflow status '${id}' (or pass --rerun)`);

      const rerun = await gflow(stack.settings, ['run', file, '--no-check-files', '--rerun', '--wait']);
      expect(rerun.code).toBe(0);
      const secondRunId = runIdIn(rerun.stdout)!;
      expect(secondRunId).toMatch(/^[0-9a-f]{32}$/);
      expect(secondRunId).not.toBe(firstRunId);
      const [one, two] = await Promise.all([stack.mlflow.getRun(firstRunId), stack.mlflow.getRun(secondRunId)]);
      expect([one.info.status, two.info.status]).toEqual(['FINISHED', 'FINISHED']);
      expect(two.info.run_name).toBe(one.info.run_name);
      expect(two.info.experiment_id).toBe(one.info.experiment_id);
      expect([tagsOf(one)['gf.workflow_id'], tagsOf(two)['gf.workflow_id']]).toEqual([id, id]);
      expect(tagsOf(two)['gf.temporal_run_id']).not.toBe(tagsOf(one)['gf.temporal_run_id']);
      expect((await stack.mlflow.getModelVersionByAlias(model, 'candidate'))?.run_id).toBe(secondRunId);
      const versionOf = async (runId: string) => (await stack.mlflow.searchModelVersions(`name='${model}' and run_id='${runId}'`))[0].version;
      const [v1, v2] = [await versionOf(firstRunId), await versionOf(secondRunId)];

      const promoted = await gflow(stack.settings, ['promote', model]);
      expect(promoted.code).toBe(0);
      expect(promoted.stdout).toContain(`promote ${model}\n  before: candidate=v${v2}\n  after:  champion=v${v2}\n`);
      expect(await aliasesOf(stack, model)).toEqual({ champion: v2 });
      expect((await stack.mlflow.getModelVersionByAlias(model, 'champion'))?.run_id).toBe(secondRunId);

      expect((await gflow(stack.settings, ['promote', model, '--version', v1])).code).toBe(0);
      expect(await aliasesOf(stack, model)).toEqual({ champion: v1, rollback: v2 });

      const rolledBack = await gflow(stack.settings, ['rollback', model]);
      expect(rolledBack.code).toBe(0);
      expect(rolledBack.stdout).toContain(`after:  candidate=v${v1} champion=v${v2}`);
      expect(await aliasesOf(stack, model)).toEqual({ champion: v2, candidate: v1 });

      const refused = await gflow(stack.settings, ['rollback', model]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(new RegExp(`^gflow: rollback ${model.replace(/\./g, '\\.')} refused: .*has no rollback version`));
      expect(await aliasesOf(stack, model)).toEqual({ champion: v2, candidate: v1 });
    });
  });

  it('gflow cancel kills the executor and ends the run KILLED; sweep-only commands refuse a single run', async () => {
    const file = await scenarioFile('cancel', 'epochs: 100, batch_size: 16, learning_rate: 0.01');
    const id = await idOf(file);
    await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.5' } }, async () => {
      expect((await gflow(stack.settings, ['run', file, '--no-check-files'])).code).toBe(0);
      const handle = stack.client.workflow.getHandle(id);
      const progress = await eventually(async () => {
        const p = await handle.query(progressQuery);
        return (p.training?.epoch ?? 0) >= 1 ? p : undefined;
      });
      const pid = Number(await readFile(path.join(stack.settings.gpu.workDir, progress.runId!, 'executor.pid'), 'utf8'));
      expect(isAlive(pid)).toBe(true);

      const pause = await gflow(stack.settings, ['pause', id]);
      expect(pause.code).toBe(1);
      expect(pause.stderr.trim()).toBe(`gflow: ${id} is a singleRun workflow; pause, resume and set-max-runs work on sweeps`);

      const cancel = await gflow(stack.settings, ['cancel', id]);
      expect(cancel).toEqual({ code: 0, stdout: `cancellation requested for ${id}\n`, stderr: '' });
      const err = await handle.result().catch((e: unknown) => e);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(isAlive(pid)).toBe(false);
      expect((await stack.mlflow.getRun(progress.runId!)).info.status).toBe('KILLED');
    });
  });

  it('a sweep steered by gflow pause, set-max-runs, resume and status --watch; its results.csv matches its runs', async () => {
    const file = await scenarioFile('steer', 'epochs: 2, batch_size: 16, learning_rate: 0.01');
    const started = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.6' } }, async () => {
      const start = await gflow(stack.settings, [
        'sweep', file, '--no-check-files', '-p', 'learning_rate=[0.001,0.003,0.01,0.03,0.1]', '--strategy', 'random', '--max-runs', '2', '--parallel', '1', '--metric', 'det.mAP50',
      ]);
      expect(start.code).toBe(0);
      const id = /^started (\S+)$/m.exec(start.stdout)![1];

      expect(await gflow(stack.settings, ['pause', id])).toEqual(expect.objectContaining({ code: 0, stdout: `pause sent to ${id}\n` }));
      const held = await progressWhen(id, (p) => p.phase === 'paused' && p.running === 0);
      expect(held.done).toBeLessThan(2);

      expect(await gflow(stack.settings, ['set-max-runs', id, '4'])).toEqual(expect.objectContaining({ code: 0, stdout: `${id}: max_runs 4, 4 trials in all\n` }));
      const lower = await gflow(stack.settings, ['set-max-runs', id, '1']);
      expect(lower.code).toBe(1);
      expect(lower.stderr).toContain('max_runs can only be raised: it is 4, got 1');
      const notANumber = await gflow(stack.settings, ['set-max-runs', id, 'abc']);
      expect(notANumber.code).toBe(2);
      expect(notANumber.stderr).toContain('set-max-runs');

      // a trial whose GPU job ended may still be recording (its slot is free, it is not done yet):
      // read status between two queries that agree on the count
      const { status, done } = await eventually(async () => {
        const before = await progressWhen(id, () => true);
        const status = await gflow(stack.settings, ['status', id]);
        const after = await progressWhen(id, () => true);
        return before.done === after.done ? { status, done: after.done } : undefined;
      });
      expect(done).toBeGreaterThanOrEqual(held.done);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`${id}: RUNNING (phase paused)`);
      expect(status.stdout).toMatch(new RegExp(`\\] ${done}/4 trials`));

      const watch = gflow(stack.settings, ['status', id, '--watch'], 120_000);
      expect(await gflow(stack.settings, ['resume', id])).toEqual(expect.objectContaining({ code: 0, stdout: `resume sent to ${id}\n` }));
      const watched = await watch;
      expect(watched.code).toBe(0);
      expect(watched.stdout).toMatch(/^running: \[[#.]+\] \d\/4 /m);
      expect(watched.stdout).toMatch(/finished: 4 done, 0 failed, 0 stopped early of 4/);
      return { id, progress: await progressWhen(id, (p) => p.phase === 'finished') };
    });

    // results.csv: one row per trial, as MLflow recorded the trial runs
    const parent = await stack.mlflow.getRun(started.progress.runId!);
    const trials = await childRuns(stack, parent.info.run_id);
    expect(trials).toHaveLength(4);
    const table = parseCsv(await artifactText(stack.settings, parent.info.artifact_uri, 'results.csv'));
    expect(table.header).toEqual(['index', 'run_id', 'run_name', 'status', 'learning_rate', 'det.mAP50', 'stopped_early']);
    expect(table.rows.map((r) => r.index)).toEqual(['0', '1', '2', '3']);
    for (const row of table.rows) {
      const trial = trials.find((t) => tagsOf(t)['sweep.index'] === row.index)!;
      expect(row).toEqual(expect.objectContaining({ run_id: trial.info.run_id, run_name: trial.info.run_name, status: 'FINISHED', learning_rate: paramsOf(trial).learning_rate }));
      expect(Number(row['det.mAP50'])).toBe(metricsOf(trial)['det.mAP50']);
      expect(csvBool(row.stopped_early)).toBe(false);
    }
    // the stand-in's det.mAP50 peaks at 0.8 for learning rate 0.01 and falls away from it
    const expected: Record<string, number> = { '0.001': 0.6, '0.003': 0.6954, '0.01': 0.8, '0.03': 0.7046, '0.1': 0.6 };
    for (const row of table.rows) expect(Number(row['det.mAP50'])).toBe(expected[row.learning_rate]);
    const best = table.rows.reduce((a, b) => (Number(b['det.mAP50']) > Number(a['det.mAP50']) ? b : a));
    expect(tagsOf(parent)['best.run_id']).toBe(best.run_id);
  });

  it('temporal workflow query, signal and update drive a sweep like gflow does', async () => {
    const scenario = parseScenarioText(`
name: plain-cli
version: plaincli
type: train
design: sweep
site: { customer: cli-co, region: ci, plant: lab, zone: bench }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-1 }
environment: { device: cpu, workers: 0 }
training: { epochs: 2, batch_size: 16, learning_rate: 0.01 }
sweep: { parameters: { learning_rate: [0.001, 0.003, 0.01, 0.03] }, strategy: random, max_runs: 2, parallel: 1, metric: det.mAP50 }
`);
    const id = workflowId(scenario);
    const result = await withFakeGpu(stack, { bundle, env: { GF_FAKE_EPOCH_SECONDS: '0.6' } }, async () => {
      const handle = (await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof sweep>;
      const paused = await temporalCli(stack.settings, ['workflow', 'signal', '--workflow-id', id, '--name', 'pause']);
      expect(paused.code).toBe(0);
      await progressWhen(id, (p) => p.phase === 'paused' && p.running === 0);

      const query = await temporalCli(stack.settings, ['workflow', 'query', '--workflow-id', id, '--name', 'progress', '--output', 'json']);
      expect(query.code).toBe(0);
      const [answer] = (JSON.parse(query.stdout) as { queryResult: BatchProgress[] }).queryResult;
      expect(answer).toEqual(expect.objectContaining({ phase: 'paused', total: 2, running: 0, metric: 'det.mAP50', runId: expect.stringMatching(/^[0-9a-f]{32}$/) }));

      const update = await temporalCli(stack.settings, ['workflow', 'update', 'execute', '--workflow-id', id, '--name', 'setMaxRuns', '--input', '3', '--output', 'json']);
      expect(update.code).toBe(0);
      expect(update.stdout).toMatch(/"result":\s*3\b/);
      expect((await handle.query(batchProgressQuery)).total).toBe(3);

      expect((await temporalCli(stack.settings, ['workflow', 'signal', '--workflow-id', id, '--name', 'resume'])).code).toBe(0);
      return handle.result();
    });
    expect(result).toEqual(expect.objectContaining({ total: 3, done: 3, failed: 0 }));
    expect(await childRuns(stack, result.runId)).toHaveLength(3);
  });
});
