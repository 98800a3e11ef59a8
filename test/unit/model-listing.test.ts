import { modelDetails, modelDetailsText, modelMatches, modelsTable, modelVersionRows } from '../../cli/model-listing';
import type { ModelVersion, RegisteredModel } from '../../activities/tracking/mlflow-responses';

const NAME = 'acme.busan-p1.weld.ppe';
const kv = (record: Record<string, string>) => Object.entries(record).map(([key, value]) => ({ key, value }));
const version = (name: string, v: string, tags: Record<string, string>, created = Date.parse('2026-12-01T09:12:30Z')): ModelVersion => ({ name, version: v, source: 's', run_id: `run${v}`, creation_timestamp: created, tags: kv(tags) });

const models: RegisteredModel[] = [
  { name: `${NAME}__onnx_fp16`, aliases: [{ alias: 'candidate', version: '1' }] },
  { name: NAME, aliases: [{ alias: 'champion', version: '2' }, { alias: 'rollback', version: '1' }, { alias: 'candidate', version: '2' }] },
];
const versions: Record<string, ModelVersion[]> = {
  [NAME]: [
    version(NAME, '1', { 'model.architecture': 'yolov8n.yaml', 'model.input_size': '640', 'data.version': 'v1', 'train.epochs': '50' }),
    version(NAME, '2', { 'model.architecture': 'yolov8s.yaml', 'model.input_size': '640', 'data.version': 'v2', 'data.path': '/d/weld.yaml', 'train.epochs': '100', 'train.epochs_completed': '87', 'det.mAP50': '0.84127', 'det.mAP50_95': '0.6' }),
  ],
  [`${NAME}__onnx_fp16`]: [version(`${NAME}__onnx_fp16`, '1', { 'quant.backend': 'onnx', 'quant.precision': 'fp16', 'sys.latency_ms_p95': '11.84', 'comparison.accuracy_drop_mAP50': '0.0049', 'comparison.speedup_ratio': '1.7' }, Date.parse('2026-12-02T00:00:00Z'))],
};
const rows = modelVersionRows(models, (name) => versions[name] ?? []);

describe('registry listing', () => {
  it('models by name, versions newest first, with their aliases and tags', () => {
    expect(rows.map((r) => [r.name, r.version, r.aliases])).toEqual([
      [NAME, '2', ['candidate', 'champion']],
      [NAME, '1', ['rollback']],
      [`${NAME}__onnx_fp16`, '1', ['candidate']],
    ]);
    expect(rows[0]).toEqual(expect.objectContaining({ runId: 'run2', createdAt: Date.parse('2026-12-01T09:12:30Z') }));
  });

  it('a table: architecture by name, epochs completed over configured, metrics rounded, a variant and its drop and speedup, - where unknown', () => {
    expect(modelsTable(rows).split('\n')).toEqual([
      'model                              version  aliases             arch     imgsz  data  epochs  mAP50  mAP50-95  p95 ms  variant     drop  speedup  created',
      'acme.busan-p1.weld.ppe                  v2  candidate,champion  yolov8s    640  v2        87  0.841     0.600       -  -              -        -  2026-12-01 09:12Z',
      'acme.busan-p1.weld.ppe                  v1  rollback            yolov8n    640  v1        50      -         -       -  -              -        -  2026-12-01 09:12Z',
      'acme.busan-p1.weld.ppe__onnx_fp16       v1  candidate           -            -  -          -      -         -    11.8  onnx/fp16  0.005     1.70  2026-12-02 00:00Z',
    ]);
  });

  it('filters by the customer, site and task in the model name; a model named otherwise matches only no filter', () => {
    expect(modelMatches(NAME, {})).toBe(true);
    expect(modelMatches(NAME, { customer: 'acme', task: 'ppe' })).toBe(true);
    expect(modelMatches(`${NAME}__onnx_fp16`, { site: 'acme/busan-p1/weld' })).toBe(true);
    expect(modelMatches(NAME, { customer: 'acm' })).toBe(false);
    expect(modelMatches(NAME, { task: 'fire' })).toBe(false);
    expect(modelMatches('someone-elses-model', {})).toBe(true);
    expect(modelMatches('someone-elses-model', { customer: 'acme' })).toBe(false);
  });

  it('show model: the champion URI to deploy, or the candidate and how to promote it', () => {
    const mine = rows.filter((r) => r.name === NAME);
    const details = modelDetails(NAME, mine);
    expect(details).toEqual(expect.objectContaining({ site: 'acme/busan-p1/weld', task: 'ppe', deploy: `models:/${NAME}@champion`, champion: '2' }));
    const text = modelDetailsText(details).split('\n');
    expect(text.slice(0, 2)).toEqual([`model ${NAME}  (site acme/busan-p1/weld, task ppe)`, `deploy:  models:/${NAME}@champion  (version 2)`]);
    expect(text[2]).toMatch(/^version\s+aliases\s.*\sdataset\s+run$/);
    expect(text[3]).toMatch(/^\s+v2\s+candidate,champion\s.*\s\/d\/weld\.yaml\s+run2$/);

    const variant = modelDetails(`${NAME}__onnx_fp16`, rows.filter((r) => r.name !== NAME));
    expect(variant.deploy).toBeNull();
    expect(modelDetailsText(variant).split('\n')[1]).toBe(`deploy:  no champion yet; candidate models:/${NAME}__onnx_fp16@candidate (version 1): gflow promote ${NAME}__onnx_fp16`);
    expect(modelDetailsText(modelDetails('other', [])).split('\n').slice(0, 2)).toEqual(['model other', 'deploy:  no champion yet']);
  });
});
