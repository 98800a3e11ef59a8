import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isOutOfMemoryText } from '../../activities/gpu/executor-failures';
import { parseEvent, parseResult, ProtocolViolation, ResultSchemas, SharedProtocol, type ExecutorEvent, type ProtocolLine as Line } from '../../activities/gpu/protocol';
import { FailureType } from '../../common/failure-types';
import { plainText } from '../../common/plain-text';
import { loadSettings } from '../../common/settings';

/**
 * Issue 12 item 5: executor events are parsed with zod at the boundary, and the error kinds and
 * out-of-memory texts come from one file (common/executor-protocol.json) that both the
 * TypeScript activity and executors/gf_protocol.py read.
 */

const settings = loadSettings();
const ROOT = path.join(__dirname, '../..');

/** Runs Python with executors/ on its path; stdout lines as JSON. */
function python(program: string, input = ''): unknown[] {
  const out = spawnSync(settings.python, ['-c', `import sys; sys.path.insert(0, ${JSON.stringify(path.join(ROOT, 'executors'))})\n${program}`], { input, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`python failed (${out.status}): ${out.stderr}`);
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown);
}

/** The violation a value raises, or undefined when it parses. */
function violationOf(parse: () => unknown): string | undefined {
  try {
    parse();
    return undefined;
  } catch (err) {
    if (err instanceof ProtocolViolation) return err.message;
    throw err;
  }
}

describe('one table of error kinds and OOM texts for TypeScript and Python', () => {
  const OOM_SAMPLES: [string, boolean][] = [
    ['torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB', true],
    ['OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB', true],
    ['RuntimeError: CUDA error: out of memory', true],
    ['RuntimeError: CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`', true],
    ['RuntimeError: HIP out of memory. Tried to allocate 1.00 GiB', true],
    ['MemoryError', true],
    ['Traceback (most recent call last):\n  File "train.py", line 3\nMemoryError: Unable to allocate array', true],
    ['numpy.core._exceptions._ArrayMemoryError: Unable to allocate 12.0 GiB for an array', true],
    ['FileNotFoundError: Dataset data.yaml not found', false],
    ['ValueError: SomeMemoryErrorLike thing', false],
    ['RuntimeError: shape mismatch', false],
  ];

  it('maps every kind to its FailureType, each one FailureType knows', () => {
    expect(SharedProtocol.error_kinds).toEqual({
      oom: 'OutOfMemory',
      data: 'InvalidDataset',
      model: 'InvalidModel',
      config: 'InvalidScenario',
      unsupported: 'UnsupportedBackend',
      internal: 'ExecutorCrashed',
    });
    for (const type of Object.values(SharedProtocol.error_kinds)) expect(Object.values(FailureType)).toContain(type);
  });

  it('Python reads the same kinds and OOM patterns as TypeScript', () => {
    const [shared] = python('import gf_protocol, json\nprint(json.dumps({"kinds": list(gf_protocol.ERROR_KINDS), "patterns": [p.pattern for p in gf_protocol.OOM_PATTERNS]}))');
    expect(shared).toEqual({ kinds: ['oom', 'data', 'model', 'config', 'unsupported', 'internal'], patterns: SharedProtocol.oom_patterns });
  });

  it('both sides take the same texts for out of memory', () => {
    const [fromPython] = python('import gf_protocol, json\nprint(json.dumps([gf_protocol.is_out_of_memory_text(t) for t in json.load(sys.stdin)]))', JSON.stringify(OOM_SAMPLES.map(([text]) => text)));
    const expected = OOM_SAMPLES.map(([, oom]) => oom);
    expect(fromPython).toEqual(expected);
    expect(OOM_SAMPLES.map(([text]) => isOutOfMemoryText(text))).toEqual(expected);
  });

  it("Python refuses a kind the table does not have, and classifies an exception by the table's texts", () => {
    const [out] = python(
      [
        'import gf_protocol, json',
        'try:',
        '    gf_protocol.ExecutorError("disk", "full")',
        '    refused = False',
        'except ValueError:',
        '    refused = True',
        'print(json.dumps({"refused": refused, "oom": gf_protocol.classify(RuntimeError("CUDA out of memory. Tried")), "other": gf_protocol.classify(KeyError("x"))}))',
      ].join('\n'),
    );
    expect(out).toEqual({ refused: true, oom: 'oom', other: 'internal' });
  });

  it('both sides make the same plain text of coloured output (issue 11 item 6): no escape sequences, redrawn lines as left on screen', () => {
    const samples = [
      "FileNotFoundError: \x1b[34m\x1b[1mtrain: \x1b[0mNo labels found in /d/labels/train.cache",
      '\x1b[31m\x1b[1mERROR\x1b[0m ❌ bad\r\n  next line  \n',
      'epoch 1/3  10%|█\r  50%|█████\r 100%|██████████\nDone',
      '\x1b]8;;http://x\x07link\x1b]8;;\x07 and \x1b[2K\x1b[1Gclear',
    ];
    const expected = ['FileNotFoundError: train: No labels found in /d/labels/train.cache', 'ERROR ❌ bad\n  next line', '100%|██████████\nDone', 'link and clear'];
    const [fromPython] = python('import gf_protocol, json\nprint(json.dumps([gf_protocol.plain_text(t) for t in json.load(sys.stdin)]))', JSON.stringify(samples));
    expect(samples.map(plainText)).toEqual(expected);
    expect(fromPython).toEqual(expected);
  });
});

describe('executor events are parsed, not cast', () => {
  const epoch = { event: 'epoch', epoch: 2, epochs: 10, metrics: { 'det.mAP50': 0.41, 'train.box_loss': 1.2 } };

  it.each<[string, Line]>([
    ['epoch', epoch],
    ['checkpoint', { event: 'checkpoint', path: '/w/run/train/weights/last.pt', epoch: 2 }],
    ['artifact', { event: 'artifact', path: '/w/run/train/weights/best.pt', kind: 'weights' }],
    ['error', { event: 'error', kind: 'oom', message: 'torch.OutOfMemoryError: CUDA out of memory.' }],
    ['progress', { event: 'progress', stage: 'export', variant: 0 }],
    ['export', { event: 'export', backend: 'onnx', precision: 'fp32', path: '/w/run/exports/best.onnx', size_mb: 12.5 }],
    ['result', { event: 'result', metrics: {} }],
  ])('a well-formed %s event passes, extra fields kept', (_, event) => {
    expect(parseEvent({ ...event, host: 'gpu-1' })).toEqual({ ...event, host: 'gpu-1' });
  });

  it.each<[string, Line, string]>([
    ['a metric that is a string', { ...epoch, metrics: { 'det.mAP50': '0.41' } }, 'executor event "epoch" breaks the protocol: metrics.det.mAP50:'],
    ['epochs missing', { event: 'epoch', epoch: 2, metrics: {} }, 'executor event "epoch" breaks the protocol: epochs:'],
    ['a 0-based epoch', { ...epoch, epoch: 0 }, 'executor event "epoch" breaks the protocol: epoch:'],
    ['a checkpoint without a path', { event: 'checkpoint', epoch: 1 }, 'executor event "checkpoint" breaks the protocol: path:'],
    ['an artifact kind that has no folder', { event: 'artifact', path: 'a.mp4', kind: 'video' }, 'executor event "artifact" breaks the protocol: kind:'],
    ['an error kind the table does not have', { event: 'error', kind: 'disk', message: 'full' }, 'executor event "error" breaks the protocol: kind:'],
    ['an export without its size', { event: 'export', backend: 'onnx', precision: 'fp32', path: 'm.onnx' }, 'executor event "export" breaks the protocol: size_mb:'],
  ])('a known event of the wrong shape fails naming the event and field: %s', (_, event, message) => {
    expect(violationOf(() => parseEvent(event))).toMatch(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('an event this worker does not know is left to the caller (logged and ignored)', () => {
    expect(parseEvent({ event: 'gpu_temperature', celsius: 71 })).toBeUndefined();
  });

  it.each<[keyof typeof ResultSchemas, Line, string]>([
    ['train', { event: 'result', epochs_completed: 3, metrics: {} }, 'batch_size:'],
    ['train', { event: 'result', epochs_completed: 3, batch_size: '16', metrics: {} }, 'batch_size:'],
    ['benchmark', { event: 'result', metrics: { 'sys.fps': null } }, 'metrics.sys.fps:'],
    ['export', { event: 'result', exports: [{ backend: 'onnx', precision: 'fp32', path: 'm.onnx', size_mb: '3' }] }, 'exports.0.size_mb:'],
    ['export', { event: 'result', metrics: {} }, 'exports:'],
  ])("a %s result that does not match its job's schema fails naming the field", (job, result, field) => {
    const event = parseEvent(result) as ExecutorEvent;
    expect(violationOf(() => parseResult<unknown>(ResultSchemas[job], event))).toContain(`executor event "result" breaks the protocol: ${field}`);
  });

  it('each job reads its own result shape', () => {
    const train = parseResult(ResultSchemas.train, { event: 'result', epochs_completed: 3, batch_size: 16, metrics: { 'det.mAP50': 0.5 } });
    expect([train.epochs_completed, train.batch_size, train.metrics]).toEqual([3, 16, { 'det.mAP50': 0.5 }]);
    const exported = parseResult(ResultSchemas.export, { event: 'result', exports: [{ backend: 'openvino', precision: 'int8', path: 'm_openvino_model', size_mb: 3.2 }] });
    expect(exported.exports).toEqual([{ backend: 'openvino', precision: 'int8', path: 'm_openvino_model', size_mb: 3.2 }]);
  });
});

describe("the stand-in executors' events match the schemas", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gflow-protocol-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs a stand-in on a spec; every stdout line parsed as a known event. */
  function events(script: string, spec: object): ExecutorEvent[] {
    const out = spawnSync(settings.python, [path.join(ROOT, 'test/fixtures', script)], { input: JSON.stringify(spec), encoding: 'utf8', env: { ...process.env, GF_FAKE_EPOCH_SECONDS: '0' } });
    expect(out.status).toBe(0);
    return out.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => parseEvent(JSON.parse(line) as Line) as ExecutorEvent);
  }
  const resultOf = (all: ExecutorEvent[]) => all.find((e) => e.event === 'result') as ExecutorEvent;

  it('fake_executor.py (train)', () => {
    const all = events('fake_executor.py', { run_dir: path.join(dir, 'train'), dataset: { path: 'd.yaml' }, training: { epochs: 2, batch_size: 8, learning_rate: 0.01 } });
    expect(all.map((e) => e.event)).toEqual(['epoch', 'checkpoint', 'epoch', 'checkpoint', 'artifact', 'artifact', 'artifact', 'result']);
    expect(parseResult(ResultSchemas.train, resultOf(all))).toEqual(expect.objectContaining({ epochs_completed: 2, batch_size: 8 }));
  });

  it('fake_quant.py (export, then benchmark of the export)', () => {
    const runDir = path.join(dir, 'quant');
    const exported = events('fake_quant.py', { run_dir: runDir, weights: path.join(dir, 'none.pt'), variants: [{ backend: 'onnx', precision: 'fp16' }] });
    expect(exported.map((e) => e.event)).toEqual(['export', 'artifact', 'result']);
    const [model] = parseResult(ResultSchemas.export, resultOf(exported)).exports;
    expect([model.backend, model.precision]).toEqual(['onnx', 'fp16']);
    const bench = events('fake_quant.py', { run_dir: runDir, model_path: model.path });
    expect(bench.map((e) => e.event)).toEqual(['artifact', 'result']);
    expect(parseResult(ResultSchemas.benchmark, resultOf(bench)).metrics['det.mAP50']).toBe(0.695);
  });
});
