import { readFileSync } from 'node:fs';
import path from 'node:path';
import { joinModels, type FleetRun, type FleetSnapshot, type ModelVersionRecord } from '../../fleet/records';
import { decide, NO_STATE, type OptimizerState, type RuleDecision } from '../../optimizer/decide';
import { parsePolicyText } from '../../optimizer/policy-loader';
import { globRegExp, inScope } from '../../optimizer/scope';

/**
 * One optimizer check, decided over a fleet written out by hand: acme/north-p1/weld ppe has a
 * champion at mAP50 0.70 (benchmarked at p95 20 ms, no GPU utilisation: a CPU host), its fall
 * task only a run and no champion; beta/south-p2/dock ppe has a champion at mAP50 0.90 whose
 * benchmark says p95 45 ms and GPU utilisation 80 %. The policy is the example file (the
 * seeds' three rules; cooldowns 48h, 24h, 7d; max_concurrent 2).
 */
const NOW = Date.UTC(2026, 0, 20, 12); // 1768910400000
const HOUR = 3_600_000;

const ACME = { customer: 'acme', region: 'north', plant: 'p1', zone: 'weld' };
const BETA = { customer: 'beta', region: 'south', plant: 'p2', zone: 'dock' };
const A_PPE = 'acme.north-p1.weld.ppe';
const B_PPE = 'beta.south-p2.dock.ppe';

function run(id: string, site: typeof ACME, task: string, metrics: FleetRun['metrics'], extra: Partial<FleetRun> = {}): Omit<FleetRun, 'model'> {
  const siteKey = `${site.customer}/${site.region}-${site.plant}/${site.zone}`;
  const start = Date.UTC(2026, 0, 15);
  return { runId: id, runName: `run-${id}`, experimentId: siteKey, siteKey, site, task, architecture: 'yolov8n', type: 'train', design: 'single', version: 'v1', parentRunId: null, status: 'FINISHED', startTime: start, endTime: start + 1000, modelSource: null, metrics, ...extra };
}

function version(name: string, v: string, runId: string, aliases: ModelVersionRecord['aliases'], site: typeof ACME, task: string): ModelVersionRecord {
  return { name, version: v, runId, aliases, site, siteKey: `${site.customer}/${site.region}-${site.plant}/${site.zone}`, task, variant: null, createdAt: null };
}

function fleet(betaBenchmark: FleetRun['metrics']): FleetSnapshot {
  const models = [version(A_PPE, '2', 'a1', ['champion'], ACME, 'ppe'), version(A_PPE, '3', 'a3', ['candidate'], ACME, 'ppe'), version(B_PPE, '4', 'b1', ['champion'], BETA, 'ppe')];
  const runs = [
    run('a1', ACME, 'ppe', { 'det.mAP50': 0.7 }),
    run('a2', ACME, 'ppe', { 'det.mAP50': 0.7, 'sys.latency_ms_p95': 20 }, { type: 'infer', modelSource: `models:/${A_PPE}/2` }),
    run('a3', ACME, 'ppe', { 'det.mAP50': 0.6, 'sys.latency_ms_p95': 50 }),
    run('f1', ACME, 'fall', { 'det.mAP50': 0.1 }),
    run('b1', BETA, 'ppe', { 'det.mAP50': 0.9 }),
    run('b2', BETA, 'ppe', betaBenchmark, { type: 'infer', modelSource: `models:/${B_PPE}/4` }),
  ];
  return { readAt: NOW, models, runs: joinModels(runs, models) };
}

const snapshot = fleet({ 'det.mAP50': 0.9, 'sys.latency_ms_p95': 45, 'sys.gpu_util_pct': 80 });
const exampleText = readFileSync(path.join(__dirname, '../../optimizer/examples/optimizer.yaml'), 'utf8');
const policy = parsePolicyText(exampleText);

const RETRAIN_KEY = 'low-accuracy-retrain/acme/north-p1/weld/ppe';
const QUANT_KEY = 'high-latency-quantize/beta/south-p2/dock/ppe';

/** rule, site, task, value, decision, workflow id: the columns a check is judged by. */
const rows = (decisions: RuleDecision[]) => decisions.map((d) => [d.rule, d.siteKey, d.task, d.value, d.decision, d.workflowId]);
const started = (decisions: RuleDecision[]) => decisions.filter((d) => d.decision === 'started').map((d) => [d.action, d.workflowId]);

describe('decide', () => {
  it('starts exactly one sweep retrain (mAP50 below 0.75) and one quantize (p95 above 30 ms); the rest do not trigger or have no metric', () => {
    const decisions = decide(snapshot, policy, NO_STATE, NOW);
    expect(rows(decisions)).toEqual([
      ['low-accuracy-retrain', 'acme/north-p1/weld', 'fall', null, 'no_metric', null],
      ['low-accuracy-retrain', 'acme/north-p1/weld', 'ppe', 0.7, 'started', 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10236'],
      ['low-accuracy-retrain', 'beta/south-p2/dock', 'ppe', 0.9, 'no_trigger', null],
      ['high-latency-quantize', 'acme/north-p1/weld', 'fall', null, 'no_metric', null],
      ['high-latency-quantize', 'acme/north-p1/weld', 'ppe', 20, 'no_trigger', null],
      ['high-latency-quantize', 'beta/south-p2/dock', 'ppe', 45, 'started', 'gf/optimizer/high-latency-quantize/beta/south-p2/dock/ppe/20473'],
      ['low-gpu-util-batch-up', 'acme/north-p1/weld', 'fall', null, 'no_metric', null],
      ['low-gpu-util-batch-up', 'acme/north-p1/weld', 'ppe', null, 'no_metric', null],
      ['low-gpu-util-batch-up', 'beta/south-p2/dock', 'ppe', 80, 'no_trigger', null],
    ]);
    expect(started(decisions)).toEqual([
      ['sweep_retrain', 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10236'],
      ['quantize', 'gf/optimizer/high-latency-quantize/beta/south-p2/dock/ppe/20473'],
    ]);
    expect(decisions[1]).toEqual({
      rule: 'low-accuracy-retrain',
      siteKey: 'acme/north-p1/weld',
      site: ACME,
      task: 'ppe',
      metric: 'det.mAP50',
      comparison: '<',
      threshold: 0.75,
      value: 0.7,
      champion: { name: A_PPE, version: '2' },
      decision: 'started',
      action: 'sweep_retrain',
      workflowId: 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10236',
      cooldownUntil: null,
    });
    expect(decisions[0].champion).toBeNull();
  });

  it('is deterministic: the same inputs give the same decisions and ids', () => {
    expect(decide(snapshot, policy, NO_STATE, NOW + 60_000)).toEqual(decide(snapshot, policy, NO_STATE, NOW + 60_000));
    expect(started(decide(snapshot, policy, NO_STATE, NOW + 60_000))).toEqual(started(decide(snapshot, policy, NO_STATE, NOW)));
  });

  it('inside the cooldown starts nothing (decision cooldown, with its end); after it starts again under a new window id', () => {
    const state: OptimizerState = { cooldowns: { [RETRAIN_KEY]: NOW, [QUANT_KEY]: NOW }, inFlight: [] };
    const inside = decide(snapshot, policy, state, NOW + HOUR);
    expect(started(inside)).toEqual([]);
    expect(inside.filter((d) => d.decision === 'cooldown').map((d) => [d.rule, d.siteKey, d.cooldownUntil])).toEqual([
      ['low-accuracy-retrain', 'acme/north-p1/weld', 1769083200000],
      ['high-latency-quantize', 'beta/south-p2/dock', 1768996800000],
    ]);
    // 24h later: the quantize cooldown is over, the retrain's (48h) is not
    expect(started(decide(snapshot, policy, state, NOW + 24 * HOUR))).toEqual([['quantize', 'gf/optimizer/high-latency-quantize/beta/south-p2/dock/ppe/20474']]);
    expect(decide(snapshot, policy, state, NOW + 24 * HOUR - 1)[1].decision).toBe('cooldown');
    expect(started(decide(snapshot, policy, state, NOW + 48 * HOUR))).toEqual([
      ['sweep_retrain', 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10237'],
      ['quantize', 'gf/optimizer/high-latency-quantize/beta/south-p2/dock/ppe/20475'],
    ]);
  });

  it('keeps a rule × site × task whose action still runs in_flight, even after its cooldown', () => {
    const running = 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10236';
    const state: OptimizerState = { cooldowns: { [RETRAIN_KEY]: NOW }, inFlight: [running] };
    const decisions = decide(snapshot, policy, state, NOW + 72 * HOUR);
    expect(decisions.filter((d) => d.rule === 'low-accuracy-retrain' && d.task === 'ppe').map((d) => [d.siteKey, d.decision, d.workflowId])).toEqual([
      ['acme/north-p1/weld', 'in_flight', running],
      ['beta/south-p2/dock', 'no_trigger', null],
    ]);
    // it also counts against max_concurrent (2): one more may start
    expect(started(decisions)).toEqual([['quantize', 'gf/optimizer/high-latency-quantize/beta/south-p2/dock/ppe/20476']]);
  });

  it('honours max_concurrent across rules, counting actions already in flight', () => {
    const one = parsePolicyText(exampleText.replace('max_concurrent: 2', 'max_concurrent: 1'));
    expect(decide(snapshot, one, NO_STATE, NOW).filter((d) => d.value !== null && d.decision !== 'no_trigger').map((d) => [d.rule, d.decision, d.workflowId])).toEqual([
      ['low-accuracy-retrain', 'started', 'gf/optimizer/low-accuracy-retrain/acme/north-p1/weld/ppe/10236'],
      ['high-latency-quantize', 'skipped_max_concurrent', null],
    ]);
    const busy: OptimizerState = { cooldowns: {}, inFlight: ['gf/optimizer/other/acme/north-p1/weld/fall/1', 'gf/optimizer/other/beta/south-p2/dock/ppe/1'] };
    expect(decide(snapshot, policy, busy, NOW).filter((d) => d.value !== null && d.decision !== 'no_trigger').map((d) => [d.rule, d.decision])).toEqual([
      ['low-accuracy-retrain', 'skipped_max_concurrent'],
      ['high-latency-quantize', 'skipped_max_concurrent'],
    ]);
  });

  it('fires the GPU rule once the metric is recorded (injected into the benchmark run)', () => {
    const lowGpu = fleet({ 'det.mAP50': 0.9, 'sys.latency_ms_p95': 25, 'sys.gpu_util_pct': 35 });
    expect(rows(decide(lowGpu, policy, NO_STATE, NOW)).filter((r) => r[0] === 'low-gpu-util-batch-up')).toEqual([
      ['low-gpu-util-batch-up', 'acme/north-p1/weld', 'fall', null, 'no_metric', null],
      ['low-gpu-util-batch-up', 'acme/north-p1/weld', 'ppe', null, 'no_metric', null],
      ['low-gpu-util-batch-up', 'beta/south-p2/dock', 'ppe', 35, 'started', 'gf/optimizer/low-gpu-util-batch-up/beta/south-p2/dock/ppe/2924'],
    ]);
  });

  it('decides only the site tasks in a rule’s scope', () => {
    const scoped = (scope: string) => parsePolicyText(`rules:\n  - name: r\n    when: { metric: det.mAP50, comparison: "<", threshold: 1, scope: ${scope} }\n    action: { type: batch_up, factor: 2 }\n    cooldown: 1h\n`);
    const covered = (scope: string) => decide(snapshot, scoped(scope), NO_STATE, NOW).map((d) => `${d.siteKey} ${d.task}`);
    expect(covered('{}')).toEqual(['acme/north-p1/weld fall', 'acme/north-p1/weld ppe', 'beta/south-p2/dock ppe']);
    expect(covered('{ customer: beta }')).toEqual(['beta/south-p2/dock ppe']);
    expect(covered('{ task: ppe }')).toEqual(['acme/north-p1/weld ppe', 'beta/south-p2/dock ppe']);
    expect(covered('{ site: "*/north-*/*", task: fall }')).toEqual(['acme/north-p1/weld fall']);
    expect(covered('{ site: "beta/**" }')).toEqual(['beta/south-p2/dock ppe']);
    expect(covered('{ site: "acme/*" }')).toEqual([]);
  });
});

describe('site globs', () => {
  it('match * and ? inside one part and ** across parts', () => {
    const target = (siteKey: string) => ({ site: { customer: siteKey.split('/')[0] }, siteKey, task: 'ppe' });
    expect(globRegExp('acme/*-p1/**')).toEqual(/^acme\/[^/]*-p1\/.*$/);
    expect(['acme/north-p1/weld', 'acme/north-p2/weld', 'acme/north-p1', 'beta/north-p1/weld'].map((k) => inScope({ site: 'acme/*-p1/*' }, target(k)))).toEqual([true, false, false, false]);
    expect(['acme/north-p1/weld', 'acme/north-p1/wel'].map((k) => inScope({ site: 'acme/north-p?/wel?' }, target(k)))).toEqual([true, false]);
    expect(['acme/a-b/c', 'acme/x/y/z', 'acmeX/a-b/c'].map((k) => inScope({ site: 'acme/**' }, target(k)))).toEqual([true, true, false]);
  });
});
