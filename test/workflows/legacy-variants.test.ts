import { chmod, mkdir, mkdtemp, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { applicationFailureOf } from '../../cli/temporal';
import { CONTROL_QUEUE, WorkflowType } from '../../common/contract';
import { loadRegistryFile } from '../../legacy/loader';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { gflowPrinted, gflowRefusal } from '../support/cli';
import { connectStack, paramsOf, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';

jest.setTimeout(10 * 60_000);

/**
 * Legacy folders as sites really have them (issue 15 item 8): export scripts whose `.onnx` and
 * OpenVINO files become registered variants with lineage to their training run, entries with a
 * Python of their own (named, or the folder's `.venv`), and `gflow wrap --name … --no-register`.
 * Real Temporal, MLflow and SeaweedFS, the real GPU worker running the scripts.
 */

const SCRIPTS = {
  'vario-ppe/train_site.py': `
import os
os.makedirs("weights", exist_ok=True)
open("weights/best.pt", "wb").write(b"weights")
open("weights/best.onnx", "wb").write(b"onnx of the trained weights")
print("mAP50: 0.64")
`,
  'vario-ppe/export_site.py': `
import os
os.makedirs("weights", exist_ok=True)
os.makedirs("openvino", exist_ok=True)
open("weights/best.onnx", "wb").write(b"onnx")
open("openvino/site_model_int8.xml", "w").write("<net/>")
open("openvino/site_model_int8.bin", "wb").write(b"ir")
print("exported")
`,
  'vario-fire/eval_site.py': `
import json, sys
json.dump(sys.executable, open("python.json", "w"))
`,
  'vario-fall/eval_site.py': `
import json, sys
json.dump(sys.executable, open("python.json", "w"))
`,
};

let stack: Stack;
let bundle: Awaited<ReturnType<typeof workflowBundle>>;
let root: string;
let registry: string;

const gflow = (...args: string[]) => gflowPrinted(stack.settings, ...args);
const refusal = (...args: string[]) => gflowRefusal(stack.settings, ...args);

const runIdOf = (output: string) => /run id:\s+([0-9a-f]{32})/.exec(output)?.[1] ?? '';
const versionTagsOf = (v: { tags?: { key: string; value: string }[] } | undefined) => Object.fromEntries((v?.tags ?? []).map((t) => [t.key, t.value]));

const site = (zone: string) => `{ customer: vario, region: ci, plant: p1, zone: ${zone} }`;

beforeAll(async () => {
  stack = await connectStack();
  const dir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'gflow-legacy-variants-')));
  root = path.join(dir, 'experiments');
  for (const [file, text] of Object.entries(SCRIPTS)) {
    await mkdir(path.join(root, path.dirname(file)), { recursive: true });
    await writeFile(path.join(root, file), text.trimStart());
  }
  // the site's own interpreter: a wrapper that leaves a marker and runs the venv's Python
  await mkdir(path.join(root, 'vario-fire', 'tools'));
  const wrapper = path.join(root, 'vario-fire', 'tools', 'py.sh');
  await writeFile(wrapper, `#!/bin/bash\necho "$@" > "$(dirname "$0")/wrapper-used.txt"\nexec ${JSON.stringify(stack.settings.python)} "$@"\n`);
  await chmod(wrapper, 0o755);
  await writeFile(path.join(root, 'vario-fire', 'tools', 'not-exec.sh'), '#!/bin/bash\n');
  // a folder with a .venv of its own: a link to the real venv's Python
  await mkdir(path.join(root, 'vario-fall', '.venv', 'bin'), { recursive: true });
  await symlink(stack.settings.python, path.join(root, 'vario-fall', '.venv', 'bin', 'python'));
  registry = path.join(dir, 'experiments.yaml');
  await writeFile(
    registry,
    `experiments:
  vario-ppe:
    path: experiments/vario-ppe
    site: ${site('weld')}
    task: { type: ppe }
    entry_points:
      train: { default: train_site.py }
      quant: { default: export_site.py, precision: fp16 }
  vario-fire:
    path: experiments/vario-fire
    python: tools/py.sh
    site: ${site('yard')}
    task: { type: fire }
    entry_points: { infer: { default: eval_site.py } }
  vario-fall:
    path: experiments/vario-fall
    site: ${site('dock')}
    task: { type: fall }
    entry_points: { infer: { default: eval_site.py } }
`,
  );
  bundle = await workflowBundle();
});

afterAll(async () => {
  await stack?.close();
});

async function withLegacyWorkers<T>(fn: () => Promise<T>): Promise<T> {
  const workers: Worker[] = [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: bundle }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client, heartbeatIntervalMs: 500 })),
  ];
  return withWorkers(workers, fn);
}

describe('exports of a wrapped script', () => {
  it('registers .onnx and an OpenVINO pair as …__{backend}_{precision} with lineage to the entry’s training run, or to -p source_run', async () => {
    const { train1, quant1, train2, quant2 } = await withLegacyWorkers(async () => {
      const t1 = runIdOf(await gflow('wrap', 'vario-ppe', '--type', 'train', '--version', 't1', '-r', registry, '--wait'));
      const q1 = await gflow('wrap', 'vario-ppe', '--type', 'quant', '--version', 'q1', '-r', registry, '--wait');
      const t2 = runIdOf(await gflow('wrap', 'vario-ppe', '--type', 'train', '--version', 't2', '-r', registry, '--wait'));
      const q2 = await gflow('wrap', 'vario-ppe', '--type', 'quant', '--version', 'q2', '-p', 'precision=fp32', '-p', `source_run=${t1}`, '-r', registry, '--wait');
      return { train1: t1, quant1: q1, train2: t2, quant2: q2 };
    });
    expect(quant1).toContain(`exports from: run ${train1}`);
    // the .onnx's name says no precision: the entry point's precision: fp16; the OpenVINO pair's says int8
    expect(quant1).toContain('variant:  vario.ci-p1.weld.ppe__onnx_fp16@candidate');
    expect(quant1).toContain('variant:  vario.ci-p1.weld.ppe__openvino_int8@candidate');
    const q1 = await stack.mlflow.getRun(runIdOf(quant1));
    const onnx = await stack.mlflow.getModelVersionByAlias('vario.ci-p1.weld.ppe__onnx_fp16', 'candidate');
    expect(onnx).toMatchObject({ run_id: q1.info.run_id, source: `${q1.info.artifact_uri}/outputs/weights/best.onnx` });
    expect(versionTagsOf(onnx)).toMatchObject({ 'source.run_id': train1, 'quant.backend': 'onnx', 'quant.precision': 'fp16', 'source.wrapped': 'true', 'exp.type': 'quant', 'legacy.entry': 'vario-ppe' });
    // q2 wrote the int8 pair again and took the alias: q1's version is found by its run
    const [openvino] = await stack.mlflow.searchModelVersions(`name='vario.ci-p1.weld.ppe__openvino_int8' and run_id='${q1.info.run_id}'`);
    expect(openvino).toMatchObject({ source: `${q1.info.artifact_uri}/outputs/openvino/site_model_int8.xml` });
    expect(versionTagsOf(openvino)).toMatchObject({ 'source.run_id': train1, 'quant.backend': 'openvino', 'quant.precision': 'int8' });
    expect(tagsOf(q1)).toMatchObject({ 'source.run_id': train1 });
    // a training script exporting its own weights: the lineage is its own run and weights
    const [selfExport] = await stack.mlflow.searchModelVersions(`name='vario.ci-p1.weld.ppe__onnx_fp32' and run_id='${train1}'`);
    expect(versionTagsOf(selfExport)).toMatchObject({ 'source.run_id': train1, 'source.model': `runs:/${train1}/outputs/weights/best.pt`, 'exp.type': 'train' });

    // -p precision overrides the entry point's; -p source_run names the training run over the latest one
    expect(train2).not.toBe(train1);
    const fp32 = await stack.mlflow.getModelVersionByAlias('vario.ci-p1.weld.ppe__onnx_fp32', 'candidate');
    expect(fp32).toMatchObject({ run_id: runIdOf(quant2) });
    expect(versionTagsOf(fp32)).toMatchObject({ 'source.run_id': train1, 'quant.precision': 'fp32' });
    expect(versionTagsOf(await stack.mlflow.getModelVersionByAlias('vario.ci-p1.weld.ppe__openvino_int8', 'candidate'))).toMatchObject({ 'source.run_id': train1 });
    expect(paramsOf(await stack.mlflow.getRun(runIdOf(quant2)))).toMatchObject({ 'wrap.precision': 'fp32', 'wrap.source_run': train1 });
  });
});

describe('the Python an entry runs with', () => {
  it('is the entry’s python: (a wrapper script), else the folder’s .venv/bin/python; recorded on the run', async () => {
    const [fire, fall] = await withLegacyWorkers(async () => [
      await gflow('wrap', 'vario-fire', '--type', 'infer', '--version', 'p1', '-r', registry, '--wait'),
      await gflow('wrap', 'vario-fall', '--type', 'infer', '--version', 'p1', '-r', registry, '--wait'),
    ]);
    const wrapper = path.join(root, 'vario-fire', 'tools', 'py.sh');
    expect(await readFile(path.join(root, 'vario-fire', 'tools', 'wrapper-used.txt'), 'utf8')).toBe(`${path.join(root, 'vario-fire', 'eval_site.py')}\n`);
    expect(tagsOf(await stack.mlflow.getRun(runIdOf(fire)))).toMatchObject({ 'legacy.python': wrapper, 'legacy.python_source': 'entry' });

    const venvPython = path.join(root, 'vario-fall', '.venv', 'bin', 'python');
    expect(JSON.parse(await readFile(path.join(root, 'vario-fall', 'python.json'), 'utf8'))).toBe(venvPython);
    expect(tagsOf(await stack.mlflow.getRun(runIdOf(fall)))).toMatchObject({ 'legacy.python': venvPython, 'legacy.python_source': 'venv' });
  });

  it('a bad python: is refused before anything starts, naming the field; started without the CLI, the GPU host refuses it', async () => {
    const bad = path.join(path.dirname(registry), 'bad-python.yaml');
    const text = await readFile(registry, 'utf8');
    await writeFile(bad, text.replace('python: tools/py.sh', 'python: tools/missing-python'));
    const missing = await refusal('wrap', 'vario-fire', '--type', 'infer', '-r', bad);
    expect(missing.exitCode).toBe(2);
    expect(missing.message).toContain(`experiments.vario-fire.python: ${path.join(root, 'vario-fire', 'tools', 'missing-python')} does not exist`);
    await writeFile(bad, text.replace('python: tools/py.sh', 'python: tools/not-exec.sh'));
    expect((await refusal('wrap', 'vario-fire', '--type', 'infer', '-r', bad)).message).toContain('experiments.vario-fire.python: ' + path.join(root, 'vario-fire', 'tools', 'not-exec.sh') + ' is not executable');

    const entry = (await loadRegistryFile(bad)).experiments['vario-fire'];
    const err = await withLegacyWorkers(() =>
      stack.client.workflow.execute(WorkflowType.legacyRun, { taskQueue: CONTROL_QUEUE, workflowId: 'gf/legacy/plain-start-bad-python', args: [{ name: 'vario-fire', entry, type: 'infer', version: 'bad-python' }] }).catch((e: unknown) => e),
    );
    expect(applicationFailureOf(err as Error)).toMatchObject({ type: 'InvalidExperimentEntry', message: `python: ${path.join(root, 'vario-fire', 'tools', 'not-exec.sh')} is not executable` });
  });
});

describe('gflow wrap --name … --no-register', () => {
  it('names the MLflow run and registers nothing, the run still recording everything', async () => {
    const output = await withLegacyWorkers(() => gflow('wrap', 'vario-ppe', '--type', 'quant', '--version', 'v3', '--name', 'site export try 3', '--no-register', '-r', registry, '--wait'));
    expect(output).toContain('run:      site export try 3');
    expect(output).not.toContain('variant:');
    const run = await stack.mlflow.getRun(runIdOf(output));
    expect(run.info).toMatchObject({ status: 'FINISHED', run_name: 'site export try 3' });
    expect(tagsOf(run)).toMatchObject({ 'gf.workflow_id': 'gf/legacy/vario/ci-p1/weld/vario-ppe-quant-v3', 'legacy.script': 'export_site.py' });
    expect(await stack.mlflow.searchModelVersions(`run_id='${run.info.run_id}'`)).toEqual([]);

    expect((await refusal('wrap', 'vario-ppe', '--type', 'quant', '--name', ' ', '-r', registry)).message).toContain('--name: expected a non-empty run name');
    expect((await refusal('wrap', 'vario-ppe', '--type', 'quant', '-p', 'precision=int4', '-r', registry)).message).toContain('-p precision: expected fp32|fp16|int8, got "int4"');
  });
});
