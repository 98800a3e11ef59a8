import type { Run } from '../../activities/tracking/mlflow-responses';
import { joinModels, parseModelName, toFleetRun, toModelVersionRecords } from '../../fleet/records';
import { isKnownMetric, MetricSource } from '../../scenarios/metric-keys';
import { FLEET_METRIC_KEYS } from '../../fleet/records';

const kv = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));

function mlflowRun(opts: { id: string; tags: Record<string, string>; params?: Record<string, string>; metrics?: Record<string, number> }): Run {
  return {
    info: { run_id: opts.id, run_name: `name-${opts.id}`, experiment_id: '7', status: 'FINISHED', artifact_uri: 'mlflow-artifacts:/7/x', lifecycle_stage: 'active', start_time: 1_700_000_000_000, end_time: 1_700_000_060_000 },
    data: { tags: kv(opts.tags), params: kv(opts.params ?? {}), metrics: Object.entries(opts.metrics ?? {}).map(([key, value]) => ({ key, value, timestamp: 0, step: 0 })) },
  };
}

const SITE_TAGS = { 'site.customer': 'acme', 'site.region': 'north', 'site.plant': 'p1', 'site.zone': 'weld', 'task.type': 'ppe' };

describe('toFleetRun', () => {
  it('reads site, task, type, architecture, lineage and the fleet metrics of a run', () => {
    const run = mlflowRun({
      id: 'r1',
      tags: { ...SITE_TAGS, 'exp.type': 'infer', 'exp.design': 'pipeline', 'exp.version': 'v2', 'mlflow.parentRunId': 'p0', 'model.source': 'models:/acme.north-p1.weld.ppe/3' },
      params: { 'model.architecture': '/models/yolov8s.yaml' },
      metrics: { 'det.mAP50': 0.81, 'sys.latency_ms_p95': 22.5, 'sys.gpu_util_pct': 64, 'mot.hota': 0.5, 'det.box_loss': 1.2, 'det.recall': NaN },
    });
    expect(toFleetRun(run)).toEqual({
      runId: 'r1',
      runName: 'name-r1',
      experimentId: '7',
      siteKey: 'acme/north-p1/weld',
      site: { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' },
      task: 'ppe',
      architecture: 'yolov8s',
      type: 'infer',
      design: 'pipeline',
      version: 'v2',
      parentRunId: 'p0',
      status: 'FINISHED',
      startTime: 1_700_000_000_000,
      endTime: 1_700_000_060_000,
      modelSource: 'models:/acme.north-p1.weld.ppe/3',
      metrics: { 'det.mAP50': 0.81, 'sys.latency_ms_p95': 22.5, 'sys.gpu_util_pct': 64, 'mot.hota': 0.5 },
    });
  });

  it('takes a quantization variant run’s quant.* numbers where the plain key is absent, and a version named by model.weights', () => {
    const run = mlflowRun({
      id: 'q1',
      tags: { ...SITE_TAGS, 'exp.type': 'quant' },
      params: { 'model.weights': 'models:/acme.north-p1.weld.ppe/2' },
      metrics: { 'quant.det.mAP50': 0.77, 'orig.det.mAP50': 0.8, 'quant.sys.latency_ms_p95': 12, 'det.precision': 0.9, 'quant.det.precision': 0.1 },
    });
    const record = toFleetRun(run)!;
    expect(record.metrics).toEqual({ 'det.mAP50': 0.77, 'det.precision': 0.9, 'sys.latency_ms_p95': 12 });
    expect(record.modelSource).toBe('models:/acme.north-p1.weld.ppe/2');
    expect(record.architecture).toBeNull();
  });

  it('names no version for an alias reference, and skips runs that are not a site’s', () => {
    expect(toFleetRun(mlflowRun({ id: 'a', tags: SITE_TAGS, params: { 'model.weights': 'models:/m@champion' } }))!.modelSource).toBeNull();
    expect(toFleetRun(mlflowRun({ id: 'b', tags: { 'site.customer': 'acme', 'task.type': 'ppe' } }))).toBeUndefined();
    expect(toFleetRun(mlflowRun({ id: 'c', tags: { ...SITE_TAGS, 'task.type': '' } }))).toBeUndefined();
  });

  it('keeps only keys that benchmark runs log', () => {
    expect(FLEET_METRIC_KEYS.filter((k) => !isKnownMetric(k, { source: MetricSource.benchmark, classes: [], batchSizes: [] }))).toEqual([]);
  });
});

describe('parseModelName', () => {
  it('reads site, task and variant back from registered model names', () => {
    expect(parseModelName('donghwa-entec.busan-plant1.welding.ppe')).toEqual({ site: { customer: 'donghwa-entec', region: 'busan', plant: 'plant1', zone: 'welding' }, task: 'ppe', variant: null });
    expect(parseModelName('acme.north-p-1.weld.fall__openvino_int8')).toEqual({ site: { customer: 'acme', region: 'north', plant: 'p-1', zone: 'weld' }, task: 'fall', variant: 'openvino_int8' });
  });

  it.each(['yolo-best', 'a.b.c', 'a.b.c.d.e', 'acme.northp1.weld.ppe', 'acme.-p1.weld.ppe', 'acme.north-.weld.ppe', 'a.r-p.z.t__x__y'])('refuses %s', (name) => {
    expect(parseModelName(name)).toBeUndefined();
  });
});

describe('registry records', () => {
  const models = [
    { name: 'acme.north-p1.weld.ppe', aliases: [{ alias: 'champion', version: '2' }, { alias: 'rollback', version: '1' }, { alias: 'staging', version: '2' }, { alias: 'candidate', version: '2' }] },
    { name: 'other-model', aliases: [{ alias: 'champion', version: '1' }] },
  ];
  const versions = [
    { name: 'acme.north-p1.weld.ppe', version: '1', source: 's', run_id: 'r1', creation_timestamp: 10 },
    { name: 'acme.north-p1.weld.ppe', version: '2', source: 's', run_id: 'r2', creation_timestamp: 20 },
    { name: 'acme.north-p1.weld.ppe', version: '3', source: 's', run_id: 'r2' },
    { name: 'other-model', version: '1', source: 's', run_id: 'r9' },
  ];

  it('gives each site model version its product aliases, sorted, and leaves other models out', () => {
    const records = toModelVersionRecords(models, versions);
    expect(records.map((r) => [r.name, r.version, r.runId, r.aliases, r.siteKey, r.task, r.variant, r.createdAt])).toEqual([
      ['acme.north-p1.weld.ppe', '1', 'r1', ['rollback'], 'acme/north-p1/weld', 'ppe', null, 10],
      ['acme.north-p1.weld.ppe', '2', 'r2', ['candidate', 'champion'], 'acme/north-p1/weld', 'ppe', null, 20],
      ['acme.north-p1.weld.ppe', '3', 'r2', [], 'acme/north-p1/weld', 'ppe', null, null],
    ]);
  });

  it('joins each run to the highest version registered from it', () => {
    const base = toFleetRun(mlflowRun({ id: 'r2', tags: SITE_TAGS }))!;
    const lone = toFleetRun(mlflowRun({ id: 'r5', tags: SITE_TAGS }))!;
    const [joined, none] = joinModels([base, lone], toModelVersionRecords(models, versions));
    expect(joined.model).toEqual({ name: 'acme.north-p1.weld.ppe', version: '3', aliases: [] });
    expect(none.model).toBeNull();
  });
});
