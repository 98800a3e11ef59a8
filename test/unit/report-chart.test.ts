import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChartRenderError, renderChart, type ChartSpec } from '../../activities/reports/chart';
import { loadSettings } from '../../common/settings';

const { python } = loadSettings();

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
async function pngSize(file: string): Promise<[number, number]> {
  const bytes = await readFile(file);
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

const trials = (best: number): ChartSpec => ({
  kind: 'trials',
  title: 'sweep',
  metric: 'det.mAP50',
  goal: 'maximize',
  trials: [
    { index: 0, value: 0.3, status: 'FINISHED', stopped_early: false },
    { index: 1, value: null, status: 'FAILED', stopped_early: false },
    { index: 2, value: 0.2, status: 'FINISHED', stopped_early: true },
    { index: 3, value: 0.5, status: 'FINISHED', stopped_early: false },
  ],
  best_index: best,
});

describe('results charts (matplotlib, offline)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-chart-test-'));
  });

  it.each<[string, ChartSpec]>([
    ['trials', trials(3)],
    ['scatter', { kind: 'scatter', title: 'acc vs latency', x_label: 'latency (ms)', y_label: 'det.mAP50', points: [{ label: 'onnx_fp32', x: 3.1, y: 0.41 }, { label: 'openvino_int8', x: 1.2, y: 0.39 }], best_label: 'onnx_fp32' }],
    ['heatmap', { kind: 'heatmap', title: 'generalisation', rows: ['m1', 'm2'], columns: ['site-a', 'site-b'], values: [[0.5, null], [0.3, 0.4]], row_label: 'model', column_label: 'dataset' }],
  ])('draws a %s chart as a PNG', async (kind, spec) => {
    const out = path.join(dir, `${kind}.png`);
    await renderChart(python, spec, out);
    const [width, height] = await pngSize(out);
    expect(width).toBeGreaterThan(200);
    expect(height).toBeGreaterThan(200);
  }, 60_000);

  it('highlights the best trial: another best gives another picture', async () => {
    await renderChart(python, trials(3), path.join(dir, 'a.png'));
    await renderChart(python, trials(0), path.join(dir, 'b.png'));
    expect((await readFile(path.join(dir, 'a.png'))).equals(await readFile(path.join(dir, 'b.png')))).toBe(false);
  }, 60_000);

  it('a bad spec fails with the field named', async () => {
    const bad = { kind: 'trials', title: 't', metric: 'm', goal: 'maximize', best_index: null } as unknown as ChartSpec;
    await expect(renderChart(python, bad, path.join(dir, 'bad.png'))).rejects.toThrow(ChartRenderError);
    await expect(renderChart(python, bad, path.join(dir, 'bad.png'))).rejects.toThrow(/trials: expected list/);
  }, 60_000);
});
