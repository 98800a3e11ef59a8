import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArgv } from '../../legacy/args';
import { globMatcher } from '../../legacy/globs';
import { expandPath, loadRegistryFile, parseRegistryText, RegistryFileError } from '../../legacy/loader';
import { finalMetrics, parseResultsCsv, StdoutMetrics } from '../../legacy/metrics';
import { draftEntry, mergeDrafts, scriptType, siteFromFolderName } from '../../legacy/scan';
import { DEFAULT_STDOUT_METRICS } from '../../legacy/schema';
import { legacyModelName, legacyWorkflowId, planWrap, WrapRequestSchema } from '../../legacy/wrap-request';

const entryYaml = (extra = '', folder = '/tmp') => `
experiments:
  donghwa-entec-fall:
    path: ${folder}
    site: { customer: donghwa-entec, region: busan, plant: plant1, zone: welding }
    task: { type: fall }
    entry_points:
      train:
        default: train.py
        args_template: "--epochs {epochs} --name {name}"
${extra}`;

function issuesOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegistryFileError) return err.message;
    throw err;
  }
  throw new Error('expected a RegistryFileError');
}

describe('experiments.yaml schema', () => {
  it('fills defaults: collect globs, size cap, stdout regex, pool', () => {
    const entry = parseRegistryText(entryYaml()).experiments['donghwa-entec-fall'];
    expect(entry.collect.globs).toEqual(expect.arrayContaining(['*.pt', 'results.csv', '*.onnx']));
    expect(entry.collect.max_file_mb).toBe(500);
    expect(entry.stdout_metrics).toBe(DEFAULT_STDOUT_METRICS);
    expect(entry.gpu_pool).toBe('default');
  });

  it('refuses an entry point of an unknown type, naming the field and line', () => {
    const text = entryYaml('      deploy:\n        default: deploy.py\n');
    expect(issuesOf(() => parseRegistryText(text, 'experiments.yaml'))).toMatch(/experiments\.donghwa-entec-fall\.entry_points\.deploy: unknown key \(line 12\)/);
  });

  it('refuses unknown keys and a missing path, naming each field', () => {
    const text = `
experiments:
  a:
    site: { customer: a, region: r, plant: p, zone: z }
    task: { type: ppe }
    entry_points: { train: { default: t.py } }
    scritp: x.py
`;
    const message = issuesOf(() => parseRegistryText(text));
    expect(message).toMatch(/experiments\.a\.path: .*required/);
    expect(message).toMatch(/experiments\.a.*scritp.*\(line 7\)/);
  });

  it('refuses a stdout regex without key and value groups', () => {
    expect(issuesOf(() => parseRegistryText(entryYaml('    stdout_metrics: "loss (\\\\d+)"\n')))).toMatch(/stdout_metrics: expected a regex with the named groups/);
  });

  it('expands ~ and resolves relative folders against the registry file', () => {
    expect(expandPath('~/experiments/x', '/base')).toBe(path.join(os.homedir(), 'experiments/x'));
    expect(expandPath('sites/x', '/base')).toBe('/base/sites/x');
  });

  it('refuses a missing folder, and an entry inside another entry’s folder', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gf-registry-'));
    await mkdir(path.join(dir, 'a', 'b'), { recursive: true });
    const file = path.join(dir, 'experiments.yaml');
    const entry = (name: string, folder: string) => `  ${name}:\n    path: ${folder}\n    site: { customer: c, region: r, plant: p, zone: z }\n    task: { type: ppe }\n    entry_points: { train: { default: t.py } }\n`;
    await writeFile(file, `experiments:\n${entry('a', 'a')}${entry('b', 'a/b')}${entry('gone', 'nope')}`);
    const err = await loadRegistryFile(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryFileError);
    expect((err as Error).message).toMatch(/experiments\.gone\.path: no such folder/);
    expect((err as Error).message).toMatch(/experiments\.b\.path: .* is inside the folder of experiments\.a/);
  });
});

describe('args template', () => {
  it('passes each value as one literal argv element: no shell, no splitting', () => {
    const evil = '; rm -rf ~ $(touch /tmp/pwned) `id` "quoted"';
    expect(buildArgv('--epochs {epochs} --name={name}', { epochs: '3', name: evil })).toEqual(['--epochs', '3', `--name=${evil}`]);
    expect(buildArgv(['--title', '{name}'], { name: 'a b' })).toEqual(['--title', 'a b']);
  });

  it('without a template, each parameter becomes --key value as in the seeds', () => {
    expect(buildArgv(undefined, { batch_size: '16' })).toEqual(['--batch-size', '16']);
  });

  it('refuses a placeholder with no value and a parameter the template does not use', () => {
    expect(() => buildArgv('--epochs {epochs}', {})).toThrow(/placeholder \{epochs\} has no value \(pass -p epochs=…\)/);
    expect(() => buildArgv('--epochs {epochs}', { epochs: '1', epoch: '2' })).toThrow(/-p epoch: not a placeholder/);
  });

  it('a wrap plan names the entry field of a missing placeholder, a missing entry point and an unknown task', () => {
    const registry = parseRegistryText(entryYaml());
    const entry = registry.experiments['donghwa-entec-fall'];
    const request = WrapRequestSchema.parse({ name: 'donghwa-entec-fall', entry, type: 'train', params: { epochs: '1' }, version: 'v1' });
    const planned = planWrap(request);
    expect(planned).toEqual({ ok: false, issues: [{ path: 'entry_points.train.args_template', message: expect.stringMatching(/\{name\} has no value/) }] });
    const infer = planWrap({ ...request, type: 'infer', entry: { ...entry, task: { type: 'unknown', classes: [] } } });
    expect(infer.ok ? [] : infer.issues.map((i) => i.path)).toEqual(['entry_points.infer', 'task.type']);
    const ok = planWrap({ ...request, params: { epochs: '1', name: 'x' } });
    expect(ok.ok && ok.plan).toMatchObject({ script: 'train.py', args: ['--epochs', '1', '--name', 'x'] });
    expect(legacyModelName(entry)).toBe('donghwa-entec.busan-plant1.welding.fall');
    expect(legacyWorkflowId(request)).toBe('gf/legacy/donghwa-entec/busan-plant1/welding/donghwa-entec-fall-train-v1');
  });
});

describe('scan heuristics', () => {
  it('reads {customer}-{task} folder names, hyphenated customers included', () => {
    expect(siteFromFolderName('donghwa-entec-fall')).toEqual({ customer: 'donghwa-entec', task: 'fall' });
    expect(siteFromFolderName('sampyo-gimhae-bct')).toEqual({ customer: 'sampyo-gimhae-bct', task: 'unknown' });
  });

  it('types scripts by the seeds’ words, Korean 학습 too', () => {
    expect(['train_yolov11_v2.py', 'yolo_train.py', '학습.py', 'infer_benchmark.py', 'eval.py', 'export_openvino.py', 'quant_tensorrt.py', 'utils.py', 'train.sh'].map(scriptType)).toEqual([
      'train', 'train', 'train', 'infer', 'infer', 'quant', 'quant', undefined, undefined,
    ]);
    expect(draftEntry({ name: 'x-ppe', path: '/e/x-ppe', files: ['train_v1.py', 'train_v2.py', 'infer.py'] }).entry_points).toEqual({ train: { default: 'train_v2.py' }, infer: { default: 'infer.py' } });
  });

  it('merges: adds new folders, keeps hand-edited entries and comments byte for byte', () => {
    const existing = `# our registry\nexperiments:\n  acme-ppe:\n    path: /e/acme-ppe # hand edited\n    site: { customer: acme, region: seoul, plant: p2, zone: dock }\n    task: { type: ppe, classes: [helmet] }\n    entry_points: { train: { default: mine.py } }\n`;
    const merged = mergeDrafts(existing, [
      { name: 'acme-ppe', path: '/e/acme-ppe', files: ['train.py'] },
      { name: 'renamed', path: '/e/acme-ppe', files: [] },
      { name: 'donghwa-entec-fall', path: '/e/donghwa-entec-fall', files: ['학습.py'] },
    ]);
    expect(merged.added).toEqual(['donghwa-entec-fall']);
    expect(merged.kept).toEqual(['acme-ppe', 'acme-ppe']);
    expect(merged.text.startsWith(existing)).toBe(true);
    expect(merged.diff).toEqual(expect.arrayContaining(['= acme-ppe (kept as written)', '+ donghwa-entec-fall:']));
    const entry = parseRegistryText(merged.text).experiments['donghwa-entec-fall'];
    expect(entry).toMatchObject({ site: { customer: 'donghwa-entec' }, task: { type: 'fall' }, entry_points: { train: { default: '학습.py' } } });
  });
});

describe('metrics of wrapped scripts', () => {
  it('reads ultralytics results.csv as the native runs’ det.* keys per epoch', () => {
    const csv = [
      '                  epoch,             time,   train/box_loss,   train/cls_loss,   train/dfl_loss,   metrics/precision(B),   metrics/recall(B),   metrics/mAP50(B),   metrics/mAP50-95(B),   val/box_loss,   val/cls_loss,   val/dfl_loss,   lr/pg0,   lr/pg1,   lr/pg2',
      '1,2.5,3.1,4.2,2.0,0.5,0.5,0.2,0.1,3.0,4.0,2.1,0.01,0.01,0.01',
      '2,5.1,2.9,4.0,1.9,0.6,0.4,0.3,0.15,2.9,3.9,2.0,0.009,0.009,nan',
    ].join('\n');
    const steps = parseResultsCsv(csv);
    expect(steps.map((s) => s.step)).toEqual([1, 2]);
    expect(steps[1].metrics).toMatchObject({ 'det.mAP50': 0.3, 'det.mAP50_95': 0.15, 'det.box_loss': 2.9, 'det.val_dfl_loss': 2.0, 'train.lr_pg0': 0.009 });
    expect(steps[1].metrics['det.f1']).toBeCloseTo(0.48);
    expect(steps[1].metrics).not.toHaveProperty('train.lr_pg2');
    expect(steps[1].metrics).not.toHaveProperty('time');
  });

  it('picks key: value lines from stdout with the default regex, each repeat a step', () => {
    const m = new StdoutMetrics(DEFAULT_STDOUT_METRICS);
    for (const line of ['loading…', 'mAP50: 0.70', 'epoch 1 done', 'mAP50: 0.812', 'latency_ms = 12.5', 'constructor: 1', 'note: fine']) m.read(line);
    expect(m.steps()).toEqual<{ step: number; metrics: Record<string, number> }[]>([
      { step: 1, metrics: { 'det.mAP50': 0.7, latency_ms: 12.5, constructor: 1 } },
      { step: 2, metrics: { 'det.mAP50': 0.812 } },
    ]);
    expect(finalMetrics(m.steps())).toMatchObject({ 'det.mAP50': 0.812, latency_ms: 12.5 });
  });
});

describe('collect globs', () => {
  it('matches names anywhere, paths from the folder', () => {
    const m = globMatcher(['*.pt', 'results.csv', 'exports/**/*.xml']);
    expect(['runs/detect/train/weights/best.pt', 'results.csv', 'runs/x/results.csv', 'exports/a/b/m.xml', 'm.xml', 'a.ptx'].map(m)).toEqual([true, true, true, true, false, false]);
  });
});

describe('scan merge layouts', () => {
  it('writes a fresh registry, and merges into a flow-style one through the document', () => {
    const fresh = mergeDrafts('', [{ name: 'acme-fire', path: '/e/acme-fire', files: ['eval_model.py'] }]);
    expect(parseRegistryText(fresh.text).experiments['acme-fire']).toMatchObject({ task: { type: 'fire' }, entry_points: { infer: { default: 'eval_model.py' } } });
    const flow = mergeDrafts('experiments: {}\n', [{ name: 'acme-fire', path: '/e/acme-fire', files: [] }]);
    expect(Object.keys(parseRegistryText(flow.text).experiments)).toEqual(['acme-fire']);
    expect(mergeDrafts(fresh.text, [{ name: 'acme-fire', path: '/e/acme-fire', files: [] }]).text).toBe(fresh.text);
  });
});

describe('scan draft order', () => {
  it('lists entry points train, infer, quant whatever the file names', () => {
    expect(Object.keys(draftEntry({ name: 'a-ppe', path: '/e/a-ppe', files: ['export_openvino.py', 'infer.py', 'train.py'] }).entry_points)).toEqual(['train', 'infer', 'quant']);
  });
});

describe('wrap request', () => {
  it('refuses a -p name MLflow could not take as a param key', () => {
    const entry = parseRegistryText(entryYaml()).experiments['donghwa-entec-fall'];
    const checked = WrapRequestSchema.safeParse({ name: 'donghwa-entec-fall', entry, type: 'train', params: { 'a b': '1' }, version: 'v1' });
    expect(checked.success).toBe(false);
    expect(checked.error?.issues[0]?.message).toMatch(/expected a parameter name .*"a b"/);
  });
});
