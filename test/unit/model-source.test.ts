import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { CPU_DEVICE, DeviceSlots } from '../../activities/gpu/devices';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGpuActivities, type GpuDeps } from '../../activities/gpu/activities';
import { ModelReferenceError, resolveModelUri, type ModelSourceDeps } from '../../activities/gpu/model-source';
import { loadSettings } from '../../common/settings';
import { parseScenarioText } from '../../scenarios/loader';

/**
 * Issue 16, defects 5 and 10: the train activity fetches `models:/` and `runs:/` weights to the
 * GPU host like benchmark and export do, and the model source refuses `..` again on its own.
 * MLflow and S3 are stand-ins recording what they were asked (the real fetch runs in test/e2e).
 */

const RUN_ID = '0123456789abcdef0123456789abcdef';
const settings = loadSettings();

/** A registry where `name@champion` is `runs:/<RUN_ID>/weights/best.pt`, and an S3 bucket holding that file. */
function fakeSources() {
  const asked: string[] = [];
  const deps = {
    store: { bucket: 'b', artifactsPrefix: 'mlflow-artifacts' },
    mlflow: {
      getModelVersionByAlias: (name: string, alias: string) => {
        asked.push(`alias ${name}@${alias}`);
        return Promise.resolve({ source: `runs:/${RUN_ID}/weights/best.pt` });
      },
      getRun: (id: string) => {
        asked.push(`run ${id}`);
        return Promise.resolve({ info: { artifact_uri: `mlflow-artifacts:/1/${id}/artifacts` } });
      },
    },
    s3: {
      send: (command: unknown) => {
        if (command instanceof ListObjectsV2Command) {
          asked.push(`list ${command.input.Prefix}`);
          return Promise.resolve({ Contents: [{ Key: command.input.Prefix }] });
        }
        if (command instanceof GetObjectCommand) {
          asked.push(`get ${command.input.Key}`);
          return Promise.resolve({ Body: Readable.from([Buffer.from('registry weights')]) });
        }
        throw new Error('unexpected S3 command');
      },
    },
  } as unknown as ModelSourceDeps;
  return { deps, asked };
}

const scenario = (weights: string) =>
  parseScenarioText(`
name: t
version: v1
type: train
site: { customer: c, region: r, plant: p, zone: z }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64, weights: '${weights}' }
dataset: { path: /d/data.yaml, version: v1 }
training: { epochs: 1, batch_size: 4, learning_rate: 0.01 }
`);

let dir: string;
let standIn: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-model-source-'));
  standIn = path.join(dir, 'seen_train.py');
  // a train executor that records the model spec it was given and reports one finished epoch
  await writeFile(
    standIn,
    [
      'import json, sys',
      'from pathlib import Path',
      `sys.path.insert(0, ${JSON.stringify(path.join(__dirname, '../../executors'))})`,
      'from gf_protocol import emit, run',
      'def job(spec):',
      '    Path(spec["run_dir"], "seen-model.json").write_text(json.dumps(spec["model"]))',
      '    emit("result", epochs_completed=1, batch_size=spec["training"]["batch_size"], metrics={})',
      'run(job)',
      '',
    ].join('\n'),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function gpuActivities(models: ModelSourceDeps) {
  const deps: GpuDeps = {
    python: settings.python,
    workDir: path.join(dir, 'work'),
    yoloConfigDir: path.join(dir, 'yolo'),
    executors: { train: standIn, benchmark: standIn, export: standIn },
    hostQueue: 'test-queue',
    devices: new DeviceSlots([CPU_DEVICE], 1),
    hostId: 'test-host',
    tagRun: () => Promise.resolve(),
    models,
    logMetrics: () => Promise.resolve(),
  };
  return createGpuActivities(deps);
}

describe('the train activity fetches its start weights', () => {
  it('models:/name@champion reaches the executor as a local copy of the registered file', async () => {
    const { deps, asked } = fakeSources();
    const runId = 'aaaaaaaa11111111';
    await new MockActivityEnvironment().run(gpuActivities(deps).train, { runId, scenario: scenario('models:/c.r-p.z.ppe@champion') });
    const local = path.join(dir, 'work', runId, 'inputs', 'best.pt');
    const seen = JSON.parse(await readFile(path.join(dir, 'work', runId, 'seen-model.json'), 'utf8')) as { weights: string };
    expect(seen.weights).toBe(local);
    expect(await readFile(local, 'utf8')).toBe('registry weights');
    expect(asked).toEqual([
      'alias c.r-p.z.ppe@champion',
      `run ${RUN_ID}`,
      `list mlflow-artifacts/1/${RUN_ID}/artifacts/weights/best.pt`,
      `get mlflow-artifacts/1/${RUN_ID}/artifacts/weights/best.pt`,
    ]);
  }, 30_000);

  it('a reference with .. (from the plain Temporal CLI) fails InvalidScenario before MLflow, S3 or the executor', async () => {
    const { deps, asked } = fakeSources();
    const runId = 'bbbbbbbb22222222';
    const bad = { ...scenario(`runs:/${RUN_ID}/weights/best.pt`) };
    bad.model = { ...bad.model, weights: `runs:/${RUN_ID}/../../../../secret/x.pt` };
    const err = await new MockActivityEnvironment().run(gpuActivities(deps).train, { runId, scenario: bad }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).type).toBe('InvalidScenario');
    expect((err as ApplicationFailure).message).toContain('".." segment');
    expect(asked).toEqual([]);
  }, 30_000);
});

describe('the model source refuses references that climb out of a run', () => {
  it.each([`runs:/${RUN_ID}/../../secret/x.pt`, `runs:/${RUN_ID}/./x.pt`, `runs:/${RUN_ID}//x.pt`, 'models:/..@champion'])('%s', async (ref) => {
    const { deps, asked } = fakeSources();
    await expect(resolveModelUri(deps, ref)).rejects.toBeInstanceOf(ModelReferenceError);
    expect(asked).toEqual([]);
  });

  it('refuses a registered version whose source has a .. segment', async () => {
    const { deps } = fakeSources();
    (deps.mlflow as unknown as { getModelVersionByAlias: () => Promise<{ source: string }> }).getModelVersionByAlias = () => Promise.resolve({ source: 's3://b/mlflow-artifacts/1/x/../../secret' });
    await expect(resolveModelUri(deps, 'models:/m@champion')).rejects.toThrow(/its source s3:\/\/b\/mlflow-artifacts\/1\/x\/\.\.\/\.\.\/secret has a '\.' or '\.\.' segment/);
  });
});
