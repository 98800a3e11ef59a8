import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadPolicyFile, parsePolicyText, PolicyFileError } from '../../optimizer/policy-loader';
import { durationMs, DurationSchema } from '../../optimizer/policy-schema';

/** The optimizer policy file: the example, defaults, every bad field named with its line, durations. */

const EXAMPLE = path.join(__dirname, '../../optimizer/examples/optimizer.yaml');

function errorOf(text: string): PolicyFileError {
  try {
    parsePolicyText(text, 'p.yaml');
  } catch (err) {
    if (err instanceof PolicyFileError) return err;
    throw err;
  }
  throw new Error('expected a PolicyFileError');
}

const rule = (name: string) => `  - name: ${name}
    when: { metric: det.mAP50, comparison: "<", threshold: 0.75 }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
`;

describe('optimizer policy', () => {
  it('reads the example: the seeds’ three rules with their actions, cooldowns and promotion', async () => {
    const policy = await loadPolicyFile(EXAMPLE);
    expect([policy.max_concurrent, policy.dry_run, policy.schedule.every]).toEqual([2, false, '6h']);
    expect(policy.rules.map((r) => [r.name, r.when.metric, r.when.comparison, r.when.threshold, r.action.type, r.cooldown])).toEqual([
      ['low-accuracy-retrain', 'det.mAP50', '<', 0.75, 'sweep_retrain', '48h'],
      ['high-latency-quantize', 'sys.latency_ms_p95', '>', 30, 'quantize', '24h'],
      ['low-gpu-util-batch-up', 'sys.gpu_util_pct', '<', 50, 'batch_up', '7d'],
    ]);
    expect(policy.rules[0].action).toEqual({ type: 'sweep_retrain', parameters: { learning_rate: [0.001, 0.005, 0.01], batch_size: [8, 16] }, strategy: 'grid', parallel: 2 });
    expect(policy.rules[0].promotion).toEqual({ gate: { metric: 'det.mAP50', goal: 'maximize', min_improvement: 0.01, max_accuracy_drop: 0.01 }, approval: 'required', approval_timeout: '72h', soak: '24h', soak_check_every: '1h' });
    expect(policy.rules[1].promotion).toEqual({
      gate: { metric: 'det.mAP50', goal: 'maximize', min_improvement: 0, max_accuracy_drop: 0.02 },
      approval: 'none',
      approval_timeout: '72h',
      soak: '12h',
      soak_check_every: '1h',
      rollback_when: [{ metric: 'sys.latency_ms_p95', comparison: '>', threshold: 30 }],
    });
    expect(policy.rules[1].action).toEqual({ type: 'quantize', variants: [{ backend: 'openvino', precision: 'int8' }] });
    expect(policy.rules[2].action).toEqual({ type: 'batch_up', factor: 2 });
  });

  it('fills defaults: max_concurrent 2, no dry run, every 6h, background priority, all of the fleet, the scenario gate, no approval; the seeds’ mAP50 is det.mAP50', () => {
    const policy = parsePolicyText(`rules:\n${rule('r').replace('det.mAP50', 'mAP50')}`);
    expect(policy).toEqual({
      max_concurrent: 2,
      dry_run: false,
      priority: 'background',
      schedule: { every: '6h' },
      rules: [
        {
          name: 'r',
          when: { metric: 'det.mAP50', comparison: '<', threshold: 0.75, scope: {} },
          action: { type: 'batch_up', factor: 2 },
          cooldown: '1h',
          promotion: { gate: { metric: 'det.mAP50_95', goal: 'maximize', min_improvement: 0, max_accuracy_drop: 0.01 }, approval: 'none', approval_timeout: '72h', soak_check_every: '1h' },
        },
      ],
    });
  });

  it('names every bad field with its line', () => {
    const err = errorOf(`max_concurrent: 0
schedule:
  every: weekly
rules:
  - name: Low Accuracy
    when:
      metric: mAP5
      comparison: "="
      threshold: high
      scope:
        task: ppx
        site: Acme/*
        plant: p1
    action:
      type: retrain
    cooldown: 48
  - name: sweep
    when: { metric: det.mAP50, comparison: "<", threshold: 0.75 }
    action:
      type: sweep_retrain
      parameters:
        lr: [0.01]
        batch_size: [8, 8]
    cooldown: 2w
    promotion:
      approval: maybe
      soak: soon
  - name: quant
    when: { metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }
    action:
      type: quantize
      variants:
        - { backend: tflite, precision: int8 }
    cooldown: 24h
`);
    expect(err.file).toBe('p.yaml');
    expect(err.issues).toEqual([
      { path: 'max_concurrent', message: 'expected at least 1, got number 0 (line 1)' },
      { path: 'schedule.every', message: 'expected a duration such as 30m, 24h or 7d, got "weekly" (line 3)' },
      { path: 'rules.0.name', message: `expected a rule name of lowercase letters, digits, '-' or '_', got "Low Accuracy" (line 5)` },
      {
        path: 'rules.0.when.metric',
        message:
          'expected one of det.mAP50, det.mAP50_95, det.precision, det.recall, sys.latency_ms, sys.latency_ms_p50, sys.latency_ms_p95, sys.fps, sys.gpu_util_pct, mot.hota, mot.deta, mot.assa, mot.mota, mot.motp, mot.idf1, mot.id_switches, mot.frag, mot.mt, mot.ml, got string "mAP5" (line 7)',
      },
      { path: 'rules.0.when.comparison', message: 'expected one of <, >, got string "=" (line 8)' },
      { path: 'rules.0.when.threshold', message: 'expected a number, got string "high" (line 9)' },
      { path: 'rules.0.when.scope.task', message: 'expected one of ppe, fall, fire, collision, stuck, got string "ppx" (line 11)' },
      { path: 'rules.0.when.scope.site', message: 'expected a site glob such as acme/*/weld or acme/**, got "Acme/*" (line 12)' },
      { path: 'rules.0.when.scope.plant', message: 'unknown key (line 13)' },
      { path: 'rules.0.action.type', message: 'expected one of sweep_retrain, quantize, batch_up, got string "retrain" (line 15)' },
      { path: 'rules.0.cooldown', message: 'expected a string, got number 48 (line 16)' },
      { path: 'rules.1.action.parameters.lr', message: 'not a sweepable parameter; expected one of learning_rate, batch_size, epochs, optimizer, patience, lrf, cos_lr, warmup_epochs, weight_decay, momentum, input_size, architecture, seed, their dotted paths (training.learning_rate, model.input_size, …) or augmentation.<field> (hsv_h, hsv_s, hsv_v, degrees, translate, scale, shear, perspective, flipud, fliplr, bgr, mosaic, mixup, cutmix, copy_paste, close_mosaic) (line 22)' },
      { path: 'rules.1.action.parameters.batch_size.1', message: 'duplicate of index 0 (8): each value is one trial (line 23)' },
      { path: 'rules.1.cooldown', message: 'expected a duration such as 30m, 24h or 7d, got "2w" (line 24)' },
      { path: 'rules.1.promotion.approval', message: 'expected one of required, none, got string "maybe" (line 26)' },
      { path: 'rules.1.promotion.soak', message: 'expected a duration such as 30m, 24h or 7d, got "soon" (line 27)' },
      { path: 'rules.2.action.variants.0.backend', message: 'expected one of onnx, openvino, tensorrt, got string "tflite" (line 33)' },
    ]);
    expect(err.message.split('\n').slice(0, 3)).toEqual(['p.yaml: invalid optimizer policy', '  - max_concurrent: expected at least 1, got number 0 (line 1)', '  - schedule.every: expected a duration such as 30m, 24h or 7d, got "weekly" (line 3)']);
  });

  it('refuses no rules, two rules of one name, a missing field, a batch factor below 2', () => {
    expect(errorOf('rules: []\n').issues).toEqual([{ path: 'rules', message: 'expected at least 1 item, got 0 (line 1)' }]);
    expect(errorOf(`rules:\n${rule('a')}${rule('a')}`).issues).toEqual([{ path: 'rules.1.name', message: '"a" is the name of another rule (line 6)' }]);
    expect(errorOf(`rules:\n${rule('a').replace('    cooldown: 1h\n', '')}`).issues).toEqual([{ path: 'rules.0.cooldown', message: 'required (a string) (line 2)' }]);
    expect(errorOf(`rules:\n${rule('a').replace('factor: 2', 'factor: 1')}`).issues).toEqual([{ path: 'rules.0.action.factor', message: 'expected at least 2, got number 1 (line 4)' }]);
  });

  it('reports YAML errors and unreadable files as file-level issues', async () => {
    expect(errorOf('rules: [\n').issues.map((i) => [i.path, i.message.split(':')[0]])).toEqual([['', 'YAML']]);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-policy-'));
    const missing = path.join(dir, 'none.yaml');
    await expect(loadPolicyFile(missing)).rejects.toThrow(`${missing}: invalid optimizer policy\n  - (file): cannot read file (ENOENT)`);
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'dry_run: maybe\nrules:\n' + rule('a'));
    await expect(loadPolicyFile(bad)).rejects.toThrow(`${bad}: invalid optimizer policy\n  - dry_run: expected true or false, got string "maybe" (line 1)`);
  });
});

describe('durations', () => {
  it('are one whole number and one unit: s, m, h, d', () => {
    expect(['30s', '30m', '24h', '7d', '1h'].map(durationMs)).toEqual([30_000, 1_800_000, 86_400_000, 604_800_000, 3_600_000]);
  });

  it('refuse more than 6 digits, zero, fractions, other units, no unit, spaces and capitals', () => {
    for (const text of ['1000000d', '0h', '1.5h', '2w', '24', ' 24h', '24 h', '24H', '-1h', '', 'h']) {
      expect([text, DurationSchema.safeParse(text).success]).toEqual([text, false]);
      expect(() => durationMs(text)).toThrow(RangeError);
    }
  });
});

describe('optimizer policy: guarded promotion', () => {
  it('names a bad approval timeout, soak interval and rollback_when with their lines; rollback_when needs a soak', () => {
    const err = errorOf(`rules:
  - name: r
    when: { metric: det.mAP50, comparison: "<", threshold: 0.75 }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion:
      approval_timeout: 3 days
      soak_check_every: 0s
      rollback_when:
        - { metric: mAP5, comparison: ">", threshold: 30 }
  - name: s
    when: { metric: det.mAP50, comparison: "<", threshold: 0.75 }
    action: { type: batch_up, factor: 2 }
    cooldown: 1h
    promotion:
      rollback_when: [{ metric: sys.latency_ms_p95, comparison: ">", threshold: 30 }]
`);
    expect(err.issues.map((i) => i.path)).toEqual([
      'rules.0.promotion.approval_timeout',
      'rules.0.promotion.soak_check_every',
      'rules.0.promotion.rollback_when.0.metric',
      'rules.1.promotion.rollback_when',
    ]);
    expect(err.issues[0].message).toBe('expected a duration such as 30m, 24h or 7d, got "3 days" (line 7)');
    expect(err.issues[2].message).toMatch(/mAP5.*\(line 10\)/);
    expect(err.issues[3].message).toMatch(/^rollback_when is read during a soak: set soak too/);
  });
});
