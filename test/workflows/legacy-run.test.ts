import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { CONTROL_QUEUE, WorkflowType } from '../../common/contract';
import { loadRegistryFile } from '../../legacy/loader';
import { applicationFailureOf } from '../../cli/temporal';
import { gflowPrinted, gflowRefusal, temporalCli } from '../support/cli';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { artifactKeys, connectStack, eventually, isAlive, metricsOf, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(15 * 60_000);

const CLASSES = ['helmet', 'vest', 'harness'];

/** The legacy scripts, as site engineers wrote them: argparse, prints, their own output folders. */
const SCRIPTS = {
  'acme-ppe/train_yolo.py': `
import argparse
from pathlib import Path
from ultralytics import YOLO

p = argparse.ArgumentParser()
p.add_argument("--data")
p.add_argument("--epochs", type=int)
a = p.parse_args()
model = YOLO("yolov8n.yaml")
model.train(data=a.data, epochs=a.epochs, imgsz=64, batch=8, workers=0, device="cpu", project=str(Path.cwd() / "runs" / "detect"), name="train",
            exist_ok=True, plots=False, pretrained=False, amp=False, seed=0)
print("done")
`,
  'acme-fire/eval_model.py': `
import json, os
print("loading model…")
print("mAP50: 0.70")
print("mAP50: 0.812")
print("latency_ms = 12.5")
json.dump({"ok": True}, open("report.json", "w"))
open("big.onnx", "wb").write(b"0" * (2 * 1024 * 1024))
if not os.path.lexists("leak.json"):
    os.symlink("/etc/hostname", "leak.json")
`,
  'acme-collision/train_broken.py': `
import sys
print("starting training")
def load(path):
    raise FileNotFoundError(f"dataset folder {path} is missing")
load("/data/collision/v3")
`,
  'donghwa-entec-fall/학습.py': `
import json, os, sys
json.dump(sys.argv[1:], open("argv.json", "w"), ensure_ascii=False)
os.makedirs("weights", exist_ok=True)
open("weights/fall_last.pt", "wb").write(b"not really weights")
print("precision: 0.5")
`,
  'acme-stuck/train_forever.py': `
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open("pids.txt", "w").write(f"{os.getpid()} {child.pid}")
i = 0
while True:
    i += 1
    print(f"epoch {i} still going", flush=True)
    time.sleep(0.5)
`,
};

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let root: string;
let home: string;
let registry: string;
let dataYaml: string;

const gflow = (...args: string[]) => gflowPrinted(stack.settings, ...args);
const refusal = (...args: string[]) => gflowRefusal(stack.settings, ...args);

const runIdOf = (output: string) => /run id:\s+([0-9a-f]{32})/.exec(output)?.[1];

beforeAll(async () => {
  stack = await connectStack();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-legacy-'));
  root = path.join(dir, 'experiments');
  home = path.join(dir, 'home');
  await mkdir(home);
  await writeFile(path.join(home, 'canary'), 'still here');
  for (const [file, text] of Object.entries(SCRIPTS)) {
    await mkdir(path.join(root, path.dirname(file)), { recursive: true });
    await writeFile(path.join(root, file), text.trimStart());
  }
  await writeFile(path.join(root, 'acme-ppe', 'notes.txt'), 'not a script');
  dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 16, val: 8, classes: CLASSES });
  registry = path.join(dir, 'experiments.yaml');
  bundle = await workflowBundle();
});

/** Runs `fn` with a fresh control worker and a real GPU worker (a worker runs once). */
async function withLegacyWorkers<T>(fn: () => Promise<T>): Promise<T> {
  const workers: Worker[] = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    // HOME points at a sandbox: even a shell expanding `~` could only reach it, and its canary proves nothing ran
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client, heartbeatIntervalMs: 500, env: { HOME: home } })),
  ];
  return withWorkers(workers, fn);
}

afterAll(async () => {
  await stack?.close();
});

describe('gflow scan', () => {
  it('drafts one entry per folder with the seeds’ heuristics; a dry run writes nothing', async () => {
    const dry = await gflow('scan', root, '-o', registry, '--dry-run');
    expect(dry).toContain('5 added, 0 kept as written (dry run: nothing written)');
    expect(existsSync(registry)).toBe(false);

    await gflow('scan', root, '-o', registry);
    const drafted = (await loadRegistryFile(registry)).experiments;
    expect(Object.keys(drafted).sort()).toEqual(['acme-collision', 'acme-fire', 'acme-ppe', 'acme-stuck', 'donghwa-entec-fall']);
    expect(drafted['acme-ppe']).toMatchObject({ site: { customer: 'acme', region: 'unknown' }, task: { type: 'ppe' }, entry_points: { train: { default: 'train_yolo.py' } } });
    expect(drafted['acme-fire']).toMatchObject({ task: { type: 'fire' }, entry_points: { infer: { default: 'eval_model.py' } } });
    expect(drafted['acme-collision']).toMatchObject({ task: { type: 'collision' }, entry_points: { train: { default: 'train_broken.py' } } });
    expect(drafted['donghwa-entec-fall']).toMatchObject({ site: { customer: 'donghwa-entec' }, task: { type: 'fall' }, entry_points: { train: { default: '학습.py' } } });
  });

  it('keeps hand-edited entries on a second scan and adds only new folders', async () => {
    // the engineer fills in the sites, templates and a size cap, as the scan asks
    const text = (await readFile(registry, 'utf8'))
      .replace(/region: unknown/g, 'region: ci')
      .replace(/zone: full/g, 'zone: legacy')
      .replace(/^( *)default: train_yolo.py$/m, '$1default: train_yolo.py\n$1args_template: "--data {data} --epochs {epochs}"')
      .replace(/^( *)default: 학습.py$/m, '$1default: 학습.py\n$1args_template: "--note {note} --cmd {cmd} --tick {tick}"')
      .replace(/( {2}acme-fire:\n)/, '$1    collect: { globs: ["*.json", "*.onnx"], max_file_mb: 1 }\n');
    await writeFile(registry, text);
    await mkdir(path.join(root, 'sampyo-gimhae-bct'));
    const output = await gflow('scan', root, '-o', registry);
    expect(output).toContain('= acme-ppe (kept as written)');
    expect(output).toContain('+ sampyo-gimhae-bct:');
    const after = await readFile(registry, 'utf8');
    expect(after.startsWith(text)).toBe(true);
    expect((await loadRegistryFile(registry)).experiments['sampyo-gimhae-bct']).toMatchObject({ task: { type: 'unknown' } });
  });

  it('lists the registry with each entry’s last wrapped run', async () => {
    const output = await gflow('list', 'experiments', '-r', registry, '--customer', 'acme');
    expect(output).toMatch(/acme-ppe\s+acme\s+acme\/ci-plant1\/legacy\s+ppe\s+train\s+-/);
    expect(output).not.toContain('donghwa-entec-fall');
  });
});

describe('gflow wrap', () => {
  it('records a real ultralytics training: per-epoch det.* metrics, its files, its best.pt registered as candidate', async () => {
    const output = await withLegacyWorkers(() => gflow('wrap', 'acme-ppe', '--type', 'train', '-p', `data=${dataYaml}`, '-p', 'epochs=2', '--version', 'v1', '-r', registry, '--wait'));
    const runId = runIdOf(output);
    expect(output).toContain('model:    acme.ci-plant1.legacy.ppe@candidate');
    const run = await stack.mlflow.getRun(runId!);
    const experiment = await stack.mlflow.getExperimentByName('acme/ci-plant1/legacy');
    expect(run.info).toMatchObject({ status: 'FINISHED', run_name: 'acme-ppe-train-v1', experiment_id: experiment?.experiment_id });
    expect(tagsOf(run)).toMatchObject({
      'source.wrapped': 'true',
      'exp.design': 'legacy',
      'exp.type': 'train',
      'site.customer': 'acme',
      'task.type': 'ppe',
      'legacy.script': 'train_yolo.py',
      'legacy.argv': JSON.stringify(['--data', dataYaml, '--epochs', '2']),
      'gf.workflow_id': 'gf/legacy/acme/ci-plant1/legacy/acme-ppe-train-v1',
    });
    expect(metricsOf(run)).toMatchObject({ 'legacy.exit_code': 0 });
    // ultralytics' own MLflow callback found MLFLOW_RUN_ID and logged its training arguments into the wrapping run, leaving it open
    expect(paramsOf(run)).toMatchObject({ 'wrap.epochs': '2', epochs: '2', imgsz: '64' });
    for (const key of ['det.mAP50', 'det.box_loss', 'det.precision']) {
      expect((await stack.mlflow.getMetricHistory(runId!, key)).map((m) => m.step).sort()).toEqual([1, 2]);
    }
    const keys = await artifactKeys(stack.settings, run.info.artifact_uri);
    expect(keys).toEqual(expect.arrayContaining(['outputs/runs/detect/train/weights/best.pt', 'outputs/runs/detect/train/results.csv', 'outputs/runs/detect/train/args.yaml', 'logs/script.log', 'collected.json']));
    const candidate = await stack.mlflow.getModelVersionByAlias('acme.ci-plant1.legacy.ppe', 'candidate');
    expect(candidate).toMatchObject({ run_id: runId, source: `${run.info.artifact_uri}/outputs/runs/detect/train/weights/best.pt` });
    expect(Object.fromEntries((candidate?.tags ?? []).map((t) => [t.key, t.value]))).toMatchObject({ 'source.wrapped': 'true' });

    const listed = await gflow('list', 'experiments', '-r', registry, '--task', 'ppe');
    expect(listed).toMatch(/acme-ppe .*acme-ppe-train-v1\s+FINISHED/);
  });

  it('records stdout metrics; files over the cap are listed, not uploaded; a link out of the folder is never collected', async () => {
    const output = await withLegacyWorkers(() => gflow('wrap', 'acme-fire', '--type', 'infer', '--version', 'v1', '-r', registry, '--wait'));
    const run = await stack.mlflow.getRun(runIdOf(output)!);
    expect(metricsOf(run)).toMatchObject({ 'det.mAP50': 0.812, latency_ms: 12.5, 'legacy.files_not_uploaded': 1 });
    expect((await stack.mlflow.getMetricHistory(run.info.run_id, 'det.mAP50')).map((m) => m.value)).toEqual([0.7, 0.812]);
    const keys = await artifactKeys(stack.settings, run.info.artifact_uri);
    expect(keys).toEqual(expect.arrayContaining(['outputs/report.json', 'collected.json', 'logs/script.log']));
    expect(keys).not.toContain('outputs/big.onnx');
    expect(keys.some((k) => k.includes('leak'))).toBe(false);
    expect(output).toContain('over the size cap (listed in collected.json, not uploaded): big.onnx');
    expect(await stack.mlflow.getModelVersionByAlias('acme.ci-plant1.legacy.fire', 'candidate')).toBeUndefined();
  });

  it('ends a script that exits 1 FAILED with its traceback in the failure', async () => {
    const err = await withLegacyWorkers(() => refusal('wrap', 'acme-collision', '--type', 'train', '--version', 'v1', '-r', registry, '--wait'));
    expect(err.message).toMatch(/ScriptFailed: train_broken\.py exited with code 1; last stderr lines:\nTraceback \(most recent call last\):[\s\S]*FileNotFoundError: dataset folder \/data\/collision\/v3 is missing/);
    const experiment = await stack.mlflow.getExperimentByName('acme/ci-plant1/legacy');
    const [run] = await stack.mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: "tags.`gf.workflow_id` = 'gf/legacy/acme/ci-plant1/legacy/acme-collision-train-v1'" });
    expect(run?.info.status).toBe('FAILED');
    expect(metricsOf(run)).toMatchObject({ 'legacy.exit_code': 1 });
    expect(await artifactKeys(stack.settings, run.info.artifact_uri)).toContain('logs/script.log');
  });

  it('passes `; rm -rf ~`, $(…) and backticks literally, one argv element each: nothing executes (Korean script name)', async () => {
    const marker = path.join(home, 'PWNED');
    const values = { note: '; rm -rf ~', cmd: `$(touch ${marker})`, tick: `\`touch ${marker}\` && echo hi` };
    const output = await withLegacyWorkers(() =>
      gflow('wrap', 'donghwa-entec-fall', '--type', 'train', ...Object.entries(values).flatMap(([k, v]) => ['-p', `${k}=${v}`]), '--version', 'v1', '-r', registry, '--wait'),
    );
    expect(JSON.parse(await readFile(path.join(root, 'donghwa-entec-fall', 'argv.json'), 'utf8'))).toEqual(['--note', values.note, '--cmd', values.cmd, '--tick', values.tick]);
    expect(existsSync(marker)).toBe(false);
    expect(await readFile(path.join(home, 'canary'), 'utf8')).toBe('still here');
    const run = await stack.mlflow.getRun(runIdOf(output)!);
    expect(tagsOf(run)).toMatchObject({ 'legacy.script': '학습.py', 'site.customer': 'donghwa-entec', 'task.type': 'fall' });
    // no best.pt: the newest .pt is registered
    expect(await stack.mlflow.getModelVersionByAlias('donghwa-entec.ci-plant1.legacy.fall', 'candidate')).toMatchObject({ source: `${run.info.artifact_uri}/outputs/weights/fall_last.pt` });
  });

  it('cancel kills the script’s whole process group and ends the run KILLED; status shows its last lines', async () => {
    await withLegacyWorkers(async () => {
      await gflow('wrap', 'acme-stuck', '--type', 'train', '--version', 'v1', '-r', registry);
      const id = 'gf/legacy/acme/ci-plant1/legacy/acme-stuck-train-v1';
      const pidsFile = path.join(root, 'acme-stuck', 'pids.txt');
      const pids = await eventually(async () => (existsSync(pidsFile) ? (await readFile(pidsFile, 'utf8')).split(' ').map(Number) : undefined), 60_000, 'the script to start');
      const status = await eventually(async () => {
        const out = await gflow('status', id);
        return /\| epoch \d+ still going/.test(out) ? out : undefined;
      }, 30_000, 'status to show the script output');
      expect(status).toMatch(/RUNNING \(phase running\)/);
      await gflow('cancel', id);
      await expect(stack.client.workflow.getHandle(id).result()).rejects.toThrow(WorkflowFailedError);
      for (const pid of pids) await eventually(() => Promise.resolve(isAlive(pid) ? undefined : true), 15_000, `pid ${pid} to exit`);
      const runId = (await stack.client.workflow.getHandle(id).query<{ runId: string }>('progress')).runId;
      expect((await stack.mlflow.getRun(runId)).info.status).toBe('KILLED');
    });
  });
});

describe('the plain Temporal CLI', () => {
  it('temporal workflow start --type legacyRun runs an entry like gflow wrap does', async () => {
    const entry = (await loadRegistryFile(registry)).experiments['acme-fire'];
    const input = path.join(path.dirname(registry), 'wrap-request.json');
    await writeFile(input, JSON.stringify({ name: 'acme-fire', entry, type: 'infer', version: 'plain' }));
    const id = 'gf/legacy/acme/ci-plant1/legacy/acme-fire-infer-plain';
    const result = await withLegacyWorkers(async () => {
      const started = await temporalCli(stack.settings, ['workflow', 'start', '--type', 'legacyRun', '--task-queue', CONTROL_QUEUE, '--workflow-id', id, '--input-file', input]);
      expect(started.code).toBe(0);
      return stack.client.workflow.getHandle(id).result() as Promise<{ runId: string; metrics: Record<string, number> }>;
    });
    expect(result.metrics).toMatchObject({ 'det.mAP50': 0.812 });
    expect((await stack.mlflow.getRun(result.runId)).info).toMatchObject({ status: 'FINISHED', run_name: 'acme-fire-infer-plain' });
  });
});

describe('refused before any process starts', () => {
  it('an entry point of an unknown type, a missing folder, a placeholder with no value, a bad --type: exit 2 naming the field', async () => {
    const bad = path.join(path.dirname(registry), 'bad.yaml');
    await writeFile(bad, (await readFile(registry, 'utf8')).replace('  acme-fire:\n', '  acme-fire:\n    entry_points_typo: 1\n'));
    expect((await refusal('wrap', 'acme-fire', '--type', 'infer', '-r', bad)).message).toMatch(/experiments\.acme-fire\.entry_points_typo: unknown key \(line \d+\)/);
    await writeFile(bad, (await readFile(registry, 'utf8')).replace(/^( *)infer:\n( *)default: eval_model.py$/m, '$1infer:\n$2default: eval_model.py\n$1deploy:\n$2default: x.py'));
    expect((await refusal('wrap', 'acme-fire', '--type', 'infer', '-r', bad)).message).toMatch(/experiments\.acme-fire\.entry_points\.deploy: unknown key/);
    await writeFile(bad, (await readFile(registry, 'utf8')).replace(`path: ${root}/acme-fire`, `path: ${root}/gone`));
    expect((await refusal('wrap', 'acme-fire', '--type', 'infer', '-r', bad)).message).toMatch(/experiments\.acme-fire\.path: no such folder/);
    const missing = await refusal('wrap', 'acme-ppe', '--type', 'train', '-p', 'epochs=1', '-r', registry);
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toMatch(/experiments\.acme-ppe\.entry_points\.train\.args_template: placeholder \{data\} has no value/);
    expect((await refusal('wrap', 'acme-ppe', '--type', 'deploy', '-r', registry)).message).toMatch(/--type: expected train\|infer\|quant/);
    expect((await refusal('wrap', 'acme-ppe', '--type', 'infer', '-r', registry)).message).toMatch(/experiments\.acme-ppe\.entry_points\.infer: no infer entry point/);
  });

  it('the workflow refuses the same input started without the CLI, before any MLflow run exists', async () => {
    const entry = (await loadRegistryFile(registry)).experiments['acme-ppe'];
    const id = 'gf/legacy/plain-start-missing-placeholder';
    const err = await withLegacyWorkers(() =>
      stack.client.workflow.execute(WorkflowType.legacyRun, { taskQueue: CONTROL_QUEUE, workflowId: id, args: [{ name: 'acme-ppe', entry, type: 'train', params: { epochs: '1' }, version: 'plain' }] }).catch((e: unknown) => e),
    );
    expect(applicationFailureOf(err as Error)).toMatchObject({ type: 'InvalidExperimentEntry', message: expect.stringMatching(/entry\.entry_points\.train\.args_template: placeholder \{data\} has no value/) });
    const experiment = await stack.mlflow.getExperimentByName('acme/ci-plant1/legacy');
    expect(await stack.mlflow.searchRuns({ experimentIds: [experiment!.experiment_id], filter: `tags.\`gf.workflow_id\` = '${id}'` })).toEqual([]);
  });
});

describe('containment', () => {
  it('refuses --script ../../etc/passwd at the CLI, and a script linked out of the folder on the GPU host', async () => {
    const escape = await refusal('wrap', 'acme-fire', '--type', 'infer', '--script', '../../etc/passwd', '-r', registry);
    expect(escape.message).toMatch(/--script \.\.\/\.\.\/etc\/passwd resolves to \/.*etc\/passwd, outside the experiment folder .*acme-fire: refused/);

    await symlink('/etc/passwd', path.join(root, 'acme-fire', 'eval_linked.py'));
    expect((await refusal('wrap', 'acme-fire', '--type', 'infer', '--script', 'eval_linked.py', '-r', registry)).message).toMatch(/resolves to \/etc\/passwd, outside the experiment folder/);

    // started without the CLI: the GPU host checks again, with symlinks resolved, before running anything
    const entry = (await loadRegistryFile(registry)).experiments['acme-fire'];
    const err = await withLegacyWorkers(() =>
      stack.client.workflow
        .execute(WorkflowType.legacyRun, { taskQueue: CONTROL_QUEUE, workflowId: 'gf/legacy/plain-start-escape', args: [{ name: 'acme-fire', entry, type: 'infer', script: 'eval_linked.py', version: 'escape' }] })
        .catch((e: unknown) => e),
    );
    expect(applicationFailureOf(err as Error)).toMatchObject({ type: 'InvalidExperimentEntry', message: expect.stringMatching(/eval_linked\.py resolves to \/etc\/passwd, outside the experiment folder/) });
  });
});
