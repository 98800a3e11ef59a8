import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSettings } from '../../common/settings';

/** Known answers for the TrackEval-based `mot.*` metrics, worked out by hand below. */

const settings = loadSettings();
const SCRIPT = path.join(__dirname, '../../executors/mot_metrics.py');
const BOX = { 1: '10,10,20,20', 2: '50,50,20,20' } as const;

const row = (frame: number, id: number, object: 1 | 2) => `${frame},${id},${BOX[object]},1,-1,-1,-1`;

async function metricsFor(gt: string[], pred: string[]): Promise<Record<string, number>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-mot-'));
  await writeFile(path.join(dir, 'gt.txt'), gt.join('\n'));
  await writeFile(path.join(dir, 'pred.txt'), pred.join('\n'));
  const { stdout } = await promisify(execFile)(settings.python, [SCRIPT, '--gt', path.join(dir, 'gt.txt'), '--pred', path.join(dir, 'pred.txt')]);
  return JSON.parse(stdout) as Record<string, number>;
}

const FRAMES = [1, 2, 3, 4];
const GROUND_TRUTH = FRAMES.flatMap((f) => [row(f, 1, 1), row(f, 2, 2)]);

describe('MOT metrics (TrackEval)', () => {
  it('a perfect tracker scores 1 everywhere, with no switches', async () => {
    const m = await metricsFor(GROUND_TRUTH, GROUND_TRUTH);
    for (const key of ['mot.hota', 'mot.deta', 'mot.assa', 'mot.mota', 'mot.motp', 'mot.idf1']) expect(m[key]).toBeCloseTo(1, 6);
    expect(m).toEqual(expect.objectContaining({ 'mot.id_switches': 0, 'mot.frag': 0, 'mot.mt': 2, 'mot.ml': 0 }));
  }, 60_000);

  it('one identity switch and one missed box give the hand-computed scores', async () => {
    // Object 1 is tracked in frames 1–3 and missed in frame 4; object 2 keeps its box but its
    // id changes from 2 to 7 at frame 3. 8 ground-truth boxes, 7 matched, all with IoU 1.
    const pred = FRAMES.flatMap((f) => [...(f < 4 ? [row(f, 1, 1)] : []), row(f, f < 3 ? 2 : 7, 2)]);
    const m = await metricsFor(GROUND_TRUTH, pred);
    const detA = 7 / 8; // TP / (TP + FN + FP)
    const assA = (3 * (3 / 4) + 4 * (2 / 4)) / 7; // mean over TPs of TPA / (TPA + FNA + FPA)
    expect(m['mot.deta']).toBeCloseTo(detA, 6);
    expect(m['mot.assa']).toBeCloseTo(assA, 6);
    expect(m['mot.hota']).toBeCloseTo(Math.sqrt(detA * assA), 6);
    expect(m['mot.mota']).toBeCloseTo(1 - (1 + 0 + 1) / 8, 6); // 1 − (FN + FP + IDSW) / GT
    expect(m['mot.idf1']).toBeCloseTo((2 * 5) / (8 + 7), 6); // 2·IDTP / (GT + predicted)
    expect(m['mot.motp']).toBeCloseTo(1, 6);
    expect(m).toEqual(expect.objectContaining({ 'mot.id_switches': 1, 'mot.mt': 1, 'mot.ml': 0 }));
  }, 60_000);
});

/** Issue 16, defect 12: the frame base is detected, blank lines skipped, bad rows refused as bad data. */
describe('MOT input files', () => {
  const EXECUTORS = path.join(__dirname, '../../executors');

  async function files(gt: string, pred: string): Promise<{ gt: string; pred: string }> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-mot-'));
    await writeFile(path.join(dir, 'gt.txt'), gt);
    await writeFile(path.join(dir, 'pred.txt'), pred);
    return { gt: path.join(dir, 'gt.txt'), pred: path.join(dir, 'pred.txt') };
  }

  /** The command line: exit code, JSON metrics on success, the message on stderr otherwise. */
  function cli(f: { gt: string; pred: string }) {
    const out = spawnSync(settings.python, [SCRIPT, '--gt', f.gt, '--pred', f.pred], { encoding: 'utf8' });
    return { code: out.status, metrics: out.status === 0 ? (JSON.parse(out.stdout) as Record<string, number>) : undefined, stderr: out.stderr };
  }

  /** The executor protocol (as benchmark.py runs it): the one error event on stdout. */
  function protocolError(body: string, spec: object) {
    const program = `import sys; sys.path.insert(0, ${JSON.stringify(EXECUTORS)})\nfrom pathlib import Path\nfrom gf_protocol import run\nfrom mot_metrics import mot_metrics\n${body}`;
    const out = spawnSync(settings.python, ['-c', program], { input: JSON.stringify(spec), encoding: 'utf8' });
    const events = out.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; kind?: string; message?: string });
    return { code: out.status, error: events.find((e) => e.event === 'error') };
  }

  const zeroBased = FRAMES.flatMap((f) => [row(f - 1, 1, 1), row(f - 1, 2, 2)]);

  it('aligns a 0-based gt.txt with 1-based predictions, frame 0 included', async () => {
    const { metrics } = cli(await files(zeroBased.join('\n'), GROUND_TRUTH.join('\n')));
    expect(metrics).toEqual(expect.objectContaining({ 'mot.mota': 1, 'mot.idf1': 1, 'mot.mt': 2, 'mot.id_switches': 0 }));
  }, 60_000);

  it('counts the frame-0 rows: one missed object there is one miss of 8', async () => {
    const pred = GROUND_TRUTH.filter((line) => line !== row(1, 2, 2));
    const { metrics } = cli(await files(zeroBased.join('\n'), pred.join('\n')));
    expect(metrics?.['mot.mota']).toBeCloseTo(1 - 1 / 8, 6);
  }, 60_000);

  it('skips blank lines and a final newline', async () => {
    const { code, metrics } = cli(await files(`${GROUND_TRUTH.slice(0, 4).join('\n')}\n\n   \n${GROUND_TRUTH.slice(4).join('\n')}\n`, GROUND_TRUTH.join('\n')));
    expect(code).toBe(0);
    expect(metrics?.['mot.mota']).toBe(1);
  }, 60_000);

  it('refuses a header or a malformed row, naming the file and line', async () => {
    const header = await files(['frame,id,x,y,w,h,conf,x3,y3,z3', ...GROUND_TRUTH].join('\n'), GROUND_TRUTH.join('\n'));
    expect(cli(header)).toEqual({
      code: 2,
      metrics: undefined,
      stderr: `mot_metrics.py: ${header.gt} line 1: expected frame,id,x,y,w,h[,conf,...] as numbers (MOTChallenge; no header), got 'frame,id,x,y,w,h,conf,x3,y3,z3'\n`,
    });
    const short = await files(GROUND_TRUTH.join('\n'), [...GROUND_TRUTH.slice(0, 2), '3,1,10,10'].join('\n'));
    expect(cli(short).stderr).toContain(`${short.pred} line 3: expected frame,id,x,y,w,h`);
    const fraction = await files(['1.5,1,10,10,20,20,1', ...GROUND_TRUTH].join('\n'), GROUND_TRUTH.join('\n'));
    expect(cli(fraction).stderr).toContain(`${fraction.gt} line 1: expected a whole frame number (0 or more) and a whole id`);
  }, 60_000);

  it('reports a bad file through the executor protocol as kind data (InvalidDataset, not retried)', async () => {
    const f = await files(['frame,id,x,y,w,h', ...GROUND_TRUTH].join('\n'), GROUND_TRUTH.join('\n'));
    const { code, error } = protocolError('run(lambda spec: mot_metrics(Path(spec["gt"]), Path(spec["pred"])))', f);
    expect(code).toBe(1);
    expect(error).toEqual({ event: 'error', kind: 'data', message: `ExecutorError: ${f.gt} line 1: expected frame,id,x,y,w,h[,conf,...] as numbers (MOTChallenge; no header), got 'frame,id,x,y,w,h'` });
  }, 60_000);

  it('classifies a host-RAM MemoryError as kind oom (OutOfMemory, not a retried crash)', () => {
    const { error } = protocolError('def job(spec):\n    raise MemoryError("Unable to allocate 12.0 GiB")\nrun(job)', {});
    expect(error).toEqual({ event: 'error', kind: 'oom', message: 'MemoryError: Unable to allocate 12.0 GiB' });
  }, 60_000);
});
