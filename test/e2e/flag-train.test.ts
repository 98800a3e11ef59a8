import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { createControlWorker } from '../../workers/control';
import { createGpuWorkers } from '../../workers/gpu';
import { connectStack, paramsOf, syntheticDataset, tagsOf, withWorkers, workflowBundle, type Stack } from '../support/harness';
import { gflow } from '../support/cli';

jest.setTimeout(15 * 60_000);

/**
 * `gflow train` with the seeds' flags, through bin/gflow (dist/) against the test stack and real
 * workers: a real ultralytics training on the synthetic data, the site from a catalogue, `--save`
 * read back as the same scenario, and `--no-register`.
 */

const CLASSES = ['helmet', 'vest'];
const SITE = { customer: 'flags-co', region: 'ci', plant: 'lab', zone: 'bench' };

let stack: Stack;
let dir: string;
let sites: string;

beforeAll(async () => {
  stack = await connectStack();
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-flags-e2e-'));
  const dataYaml = await syntheticDataset(stack.settings, path.join(dir, 'shapes'), { train: 16, val: 8, classes: CLASSES });
  sites = path.join(dir, 'sites.yaml');
  await writeFile(sites, `sites:\n  flags-lab: { customer: ${SITE.customer}, region: ${SITE.region}, plant: ${SITE.plant}, zone: ${SITE.zone}, dataset: { path: ${dataYaml}, version: synthetic-1 } }\n`);
});

afterAll(async () => {
  await stack?.close();
});

const train = (version: string, ...more: string[]) =>
  ['--sites', sites, 'train', '--site', 'flags-lab', '--task', 'ppe', '-m', 'yolov8n.yaml', '--epochs', '1', '--batch', '8', '--imgsz', '64', '--lr', '0.01', '--device', 'cpu', '--workers', '0', '--version', version, ...more];
const runIdIn = (stdout: string) => /run id:\s+([0-9a-f]{32})/.exec(stdout)?.[1];
const MODEL = 'flags-co.ci-lab.bench.ppe';

describe('gflow train with flags: a real ultralytics training', () => {
  it('ends in a FINISHED MLflow run registered as candidate; --save writes the scenario that started', async () => {
    const saved = path.join(dir, 'one-off.yaml');
    const id = 'gf/single/flags-co/ci-lab/bench/ppe-yolov8n-train-flags1';
    const result = await withWorkers(await freshWorkers(), () => gflow(stack.settings, [...train('flags1', '--save', saved), '--wait'], 10 * 60_000));
    expect(result).toEqual(expect.objectContaining({ code: 0 }));
    expect(result.stdout).toContain(`started ${id}`);
    expect(result.stdout).toMatch(new RegExp(`model:\\s+${MODEL.replace(/\./g, '\\.')}@candidate \\(version \\d+\\)`));

    const runId = runIdIn(result.stdout)!;
    const run = await stack.mlflow.getRun(runId);
    expect(run.info).toMatchObject({ status: 'FINISHED', run_name: 'ppe-yolov8n-train-flags1' });
    expect(tagsOf(run)).toMatchObject({ 'site.customer': 'flags-co', 'task.classes': CLASSES.join(','), 'data.version': 'synthetic-1', 'gf.workflow_id': id });
    expect(paramsOf(run)).toMatchObject({ 'model.architecture': 'yolov8n.yaml', 'model.input_size': '64', 'train.epochs': '1', 'train.batch_size': '8' });
    expect((await stack.mlflow.getModelVersionByAlias(MODEL, 'candidate'))?.run_id).toBe(runId);

    // the saved file names the site by name and is the same scenario: the same workflow id, refused as already run
    const text = await readFile(saved, 'utf8');
    expect(text).toContain('site: flags-lab');
    const validated = await gflow(stack.settings, ['--sites', sites, 'validate', saved]);
    expect(validated.stdout).toContain(`workflow:   ${id}`);
    const again = await gflow(stack.settings, ['--sites', sites, 'run', saved]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${id} already ran or is running`);
  });

  it('--no-register: the run finishes and the registry is left alone', async () => {
    const before = await stack.mlflow.getModelVersionByAlias(MODEL, 'candidate');
    const result = await withWorkers(await freshWorkers(), () => gflow(stack.settings, [...train('flags2', '--no-register'), '--wait'], 10 * 60_000));
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('@candidate');
    const runId = runIdIn(result.stdout)!;
    expect((await stack.mlflow.getRun(runId)).info.status).toBe('FINISHED');
    expect(await stack.mlflow.searchModelVersions(`run_id = '${runId}'`)).toEqual([]);
    expect((await stack.mlflow.getModelVersionByAlias(MODEL, 'candidate'))?.version).toBe(before?.version);
  });
});

/** Control and GPU workers of the test stack (a worker runs once: one set per command). */
async function freshWorkers(): Promise<Worker[]> {
  return [
    await createControlWorker({ settings: stack.settings, connection: stack.nativeConnection, workflowBundle: await workflowBundle() }),
    ...(await createGpuWorkers({ settings: stack.settings, connection: stack.nativeConnection, client: stack.client })),
  ];
}
