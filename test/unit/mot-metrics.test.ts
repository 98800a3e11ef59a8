import { execFile } from 'node:child_process';
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
