import type { WorkflowHandle } from '@temporalio/client';
import { createTrackingActivities } from '../../activities/tracking/activities';
import { startScenario } from '../../cli/start-run';
import type { ModelDetails, ModelVersionRow } from '../../cli/model-listing';
import { parseScenarioText } from '../../scenarios/loader';
import type { pipeline } from '../../workflows/pipeline';
import { connectStack, withFakeGpu, workflowBundle, type Stack } from '../support/harness';
import { gflow } from '../support/cli';

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

const MODEL = 'view-co.ci-lab.yard.ppe';
const tagsOfVersion = async (name: string, version: string) => Object.fromEntries(((await stack.mlflow.getModelVersion(name, version))?.tags ?? []).map((t) => [t.key, t.value]));

describe('a registry that describes itself (stand-in executor; real Temporal, MLflow, S3 and bin/gflow)', () => {
  let trainRunId: string;

  it('every version a pipeline registers carries what it is and how good it is; variants their backend, precision, drop and speedup', async () => {
    const scenario = parseScenarioText(`
name: view
version: v1
type: train
design: pipeline
site: { customer: view-co, region: ci, plant: lab, zone: yard }
task: { type: ppe, classes: [helmet] }
model: { architecture: yolov8n.yaml, input_size: 64 }
dataset: { path: /nonexistent/data.yaml, version: synthetic-7 }
environment: { device: cpu, workers: 0 }
training: { epochs: 3, batch_size: 8, learning_rate: 0.01 }
quantization: { variants: [ { backend: openvino, precision: int8 } ], calibration_size: 8 }
promotion: { metric: det.mAP50, min_improvement: 0, max_accuracy_drop: 1 }
`);
    const result = await withFakeGpu(stack, { bundle }, async () => ((await startScenario(stack.client, scenario)) as unknown as WorkflowHandle<typeof pipeline>).result());
    trainRunId = result.trained.runId;
    const trained = result.trained.model!;
    const run = await stack.mlflow.getRun(trainRunId);
    const metric = (key: string) => String(run.data.metrics!.find((m) => m.key === key)!.value);
    expect(await tagsOfVersion(trained.name, trained.version)).toEqual(
      expect.objectContaining({
        'model.architecture': 'yolov8n.yaml',
        'model.input_size': '64',
        'task.type': 'ppe',
        'site.experiment': 'view-co/ci-lab/yard',
        'site.customer': 'view-co',
        'data.path': '/nonexistent/data.yaml',
        'data.version': 'synthetic-7',
        'train.epochs': '3',
        'train.epochs_completed': '3',
        'det.mAP50': metric('det.mAP50'),
        'det.mAP50_95': metric('det.mAP50_95'),
        'exp.type': 'train',
      }),
    );

    const [variant] = result.quantized.variants!;
    const variantTags = await tagsOfVersion(variant.model.name, variant.model.version);
    expect(variantTags).toEqual(
      expect.objectContaining({
        'quant.backend': 'openvino',
        'quant.precision': 'int8',
        'model.architecture': 'yolov8n.yaml',
        'model.input_size': '64',
        'source.run_id': trainRunId,
        'det.mAP50': String(variant.metrics['quant.det.mAP50']),
        'comparison.accuracy_drop_mAP50': String(variant.metrics['comparison.accuracy_drop_mAP50']),
        'comparison.speedup_ratio': String(variant.metrics['comparison.speedup_ratio']),
      }),
    );
    // the stand-in's int8 export loses 0.03 mAP50 and runs in 0.4 of the time
    expect(Number(variantTags['comparison.accuracy_drop_mAP50'])).toBeCloseTo(0.03, 4);
    expect(Number(variantTags['comparison.speedup_ratio'])).toBeCloseTo(2.5, 4);
  });

  it('a retried registration completes the tags of the version it finds, without a second version', async () => {
    const run = await stack.mlflow.getRun(trainRunId);
    const source = `${run.info.artifact_uri}/weights/best.pt`;
    const name = 'view-co.ci-lab.retry.ppe';
    // an earlier attempt created the version and died before anything else (here: with one tag only, and a stale value)
    await stack.mlflow.ensureRegisteredModel(name);
    const first = await stack.mlflow.createModelVersion({ name, source, runId: trainRunId, tags: [{ key: 'model.input_size', value: 'stale' }] });
    const tracking = createTrackingActivities({ mlflow: stack.mlflow });
    const again = await tracking.registerModel({ name, runId: trainRunId, source, alias: 'candidate', tags: { 'exp.type': 'train' } });
    const twice = await tracking.registerModel({ name, runId: trainRunId, source, alias: 'candidate', tags: { 'exp.type': 'train' } });
    expect([again.version, twice.version]).toEqual([first.version, first.version]);
    expect(await stack.mlflow.searchModelVersions(`name='${name}'`)).toHaveLength(1);
    const tags = await tagsOfVersion(name, first.version);
    expect(tags).toEqual(expect.objectContaining({ 'model.input_size': '64', 'model.architecture': 'yolov8n.yaml', 'data.version': 'synthetic-7', 'exp.type': 'train', 'train.epochs_completed': '3' }));
    expect(tags['det.mAP50']).toMatch(/^0\.\d+$/);
  });

  it('gflow list models shows versions with aliases, metrics and times; --customer, --task, --json; a bad --task exits 2', async () => {
    const table = await gflow(stack.settings, ['list', 'models', '--customer', 'view-co', '--task', 'ppe']);
    expect(table).toEqual(expect.objectContaining({ code: 0, stderr: '' }));
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^model\s+version\s+aliases\s+arch\s+imgsz\s+data\s+epochs\s+mAP50\s+mAP50-95\s+p95 ms\s+variant\s+drop\s+speedup\s+created$/);
    expect(lines.find((l) => l.startsWith(`${MODEL} `))).toMatch(new RegExp(`^${MODEL.replace(/\./g, '\\.')}\\s+v1\\s+champion\\s+yolov8n\\s+64\\s+synthetic-7\\s+3\\s+0\\.\\d{3}\\s+0\\.\\d{3}\\s+-\\s+-\\s+-\\s+-\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ$`));
    expect(lines.find((l) => l.startsWith(`${MODEL}__openvino_int8 `))).toMatch(/\s+v1\s+champion\s+yolov8n\s+64\s+synthetic-7\s+3\s+0\.\d{3}\s+0\.\d{3}\s+-\s+openvino\/int8\s+0\.030\s+2\.50\s+\d{4}-/);
    expect(lines.at(-1)).toBe('3 versions of 3 models');

    const json = await gflow(stack.settings, ['list', 'models', '--customer', 'view-co', '--json']);
    const rows = JSON.parse(json.stdout) as ModelVersionRow[];
    expect(rows.map((r) => `${r.name} v${r.version}`)).toEqual(['view-co.ci-lab.retry.ppe v1', `${MODEL} v1`, `${MODEL}__openvino_int8 v1`]);
    expect(rows[1]).toEqual(expect.objectContaining({ aliases: ['champion'], runId: trainRunId, createdAt: expect.any(Number), tags: expect.objectContaining({ 'model.architecture': 'yolov8n.yaml' }) }));

    expect((await gflow(stack.settings, ['list', 'models', '--customer', 'view-co', '--task', 'fire'])).stdout.trim()).toBe('no registered models');
    const bad = await gflow(stack.settings, ['list', 'models', '--task', 'helmets']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('gflow: --task: expected one of ppe, fall, fire, collision, stuck, got "helmets"');
  });

  it('gflow show model: its versions and the models:/name@champion URI to deploy; an unknown model is one line', async () => {
    const shown = await gflow(stack.settings, ['show', 'model', MODEL]);
    expect(shown.code).toBe(0);
    const lines = shown.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual([`model ${MODEL}  (site view-co/ci-lab/yard, task ppe)`, `deploy:  models:/${MODEL}@champion  (version 1)`]);
    expect(lines[2]).toMatch(/^version\s+aliases\s+arch\s+.*\s+dataset\s+run$/);
    expect(lines[3]).toMatch(new RegExp(`^\\s*v1\\s+champion\\s+yolov8n\\s+64\\s+synthetic-7\\s+3\\s+.*\\s/nonexistent/data\\.yaml\\s+${trainRunId}$`));

    const json = JSON.parse((await gflow(stack.settings, ['show', 'model', 'view-co.ci-lab.retry.ppe', '--json'])).stdout) as ModelDetails;
    expect(json).toEqual(expect.objectContaining({ deploy: null, champion: null, site: 'view-co/ci-lab/retry', task: 'ppe' }));
    const candidate = await gflow(stack.settings, ['show', 'model', 'view-co.ci-lab.retry.ppe']);
    expect(candidate.stdout).toContain('deploy:  no champion yet; candidate models:/view-co.ci-lab.retry.ppe@candidate (version 1): gflow promote view-co.ci-lab.retry.ppe');

    const unknown = await gflow(stack.settings, ['show', 'model', 'view-co.nope']);
    expect(unknown).toEqual(expect.objectContaining({ code: 1, stdout: '' }));
    expect(unknown.stderr.trim()).toBe('gflow: no registered model "view-co.nope"; gflow list models shows them');
  });
});
