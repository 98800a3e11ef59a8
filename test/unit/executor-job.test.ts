import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { runFolder, superviseJob, type JobDeps } from '../../activities/gpu/executor-job';
import { ResultSchemas } from '../../activities/gpu/protocol';
import { loadSettings } from '../../common/settings';

/**
 * Issue 12 item 5: `superviseJob` checks every event and its job's result; an executor that breaks
 * the protocol is stopped at once and the activity fails `ExecutorProtocolViolation` (not retried),
 * naming the event and field. Stand-in executors written here speak the protocol through
 * executors/gf_protocol.py.
 */

const settings = loadSettings();
let dir: string;
let deps: JobDeps;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-executor-job-'));
  deps = { python: settings.python, workDir: path.join(dir, 'work'), yoloConfigDir: path.join(dir, 'yolo') };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A stand-in executor whose job body is these Python lines. */
async function standIn(name: string, lines: string[]): Promise<string> {
  const file = path.join(dir, `${name}.py`);
  const body = lines.map((line) => `    ${line}`).join('\n');
  await writeFile(file, `import sys, time\nsys.path.insert(0, ${JSON.stringify(path.join(__dirname, '../../executors'))})\nfrom gf_protocol import emit, run\ndef job(spec):\n${body}\nrun(job)\n`);
  return file;
}

async function trainJob(executor: string, runId: string) {
  const runDir = await runFolder(deps.workDir, runId);
  const job = () => superviseJob(deps, { runDir, executor, result: ResultSchemas.train, heartbeat: null, spec: {} });
  return { runDir, outcome: await new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(job).catch((err: unknown) => err) };
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('superviseJob and the executor protocol', () => {
  it('an epoch of the wrong shape stops the executor at once and fails ExecutorProtocolViolation naming the field', async () => {
    const executor = await standIn('bad_epoch', ['emit("epoch", epoch=1, epochs=3, metrics={"det.mAP50": "high"})', 'time.sleep(60)']);
    const started = Date.now();
    const { runDir, outcome } = await trainJob(executor, 'aaaaaaaa00000001');
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(outcome).toBeInstanceOf(ApplicationFailure);
    const failure = outcome as ApplicationFailure;
    expect([failure.type, failure.nonRetryable]).toEqual(['ExecutorProtocolViolation', true]);
    expect(failure.message).toMatch(/^executor event "epoch" breaks the protocol: metrics\.det\.mAP50: .*expected number/);
    const pid = Number(await readFile(path.join(runDir, 'executor.pid'), 'utf8'));
    expect(alive(pid)).toBe(false);
    expect(await readFile(path.join(runDir, 'executor.log'), 'utf8')).toContain('executor event "epoch" breaks the protocol');
  }, 30_000);

  it('a result that does not match the job fails ExecutorProtocolViolation naming the field, though the executor exits 0', async () => {
    const executor = await standIn('bad_result', ['emit("result", epochs_completed=1, batch_size="16", metrics={})']);
    const { outcome } = await trainJob(executor, 'aaaaaaaa00000002');
    expect(outcome).toBeInstanceOf(ApplicationFailure);
    expect([(outcome as ApplicationFailure).type, (outcome as ApplicationFailure).message]).toEqual([
      'ExecutorProtocolViolation',
      expect.stringMatching(/^executor event "result" breaks the protocol: batch_size: /),
    ]);
  }, 30_000);

  it('an unknown event is logged and ignored; the job finishes with its checked result', async () => {
    const executor = await standIn('unknown_event', [
      'emit("gpu_temperature", celsius=71)',
      'emit("epoch", epoch=1, epochs=1, metrics={"det.mAP50": 0.5})',
      'emit("result", epochs_completed=1, batch_size=16, metrics={"det.mAP50": 0.5}, host="gpu-1")',
    ]);
    const { runDir, outcome } = await trainJob(executor, 'aaaaaaaa00000003');
    expect(outcome).toEqual({
      result: { event: 'result', epochs_completed: 1, batch_size: 16, metrics: { 'det.mAP50': 0.5 }, host: 'gpu-1' },
      files: [{ localPath: path.join(runDir, 'executor.log'), artifactPath: 'logs/executor.log' }],
    });
    expect(await readFile(path.join(runDir, 'executor.log'), 'utf8')).toContain('ignored unknown executor event: {"event": "gpu_temperature", "celsius": 71}');
  }, 30_000);

  it('an error event with a kind the shared table lacks is a protocol violation, its line kept in the message', async () => {
    const executor = await standIn('bad_kind', ['emit("error", kind="disk", message="no space left")', 'sys.exit(1)']);
    const { runDir, outcome } = await trainJob(executor, 'aaaaaaaa00000004');
    expect((outcome as ApplicationFailure).type).toBe('ExecutorProtocolViolation');
    expect((outcome as ApplicationFailure).message).toContain('no space left');
    expect(existsSync(path.join(runDir, 'executor.log'))).toBe(true);
  }, 30_000);
});
