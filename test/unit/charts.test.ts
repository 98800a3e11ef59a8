import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChartRenderError, ChartRenderer, renderChart, type ChartSpec } from '../../activities/reports/chart';
import { loadSettings } from '../../common/settings';

const { python, repoRoot: REPO } = loadSettings();
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from the IHDR chunk, which a valid PNG has right after its signature. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  expect(bytes.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

const trials = (bestIndex: number | null): ChartSpec => ({
  kind: 'trials',
  title: 'ppe sweep: det.mAP50_95 per trial',
  metric: 'det.mAP50_95',
  goal: 'maximize',
  trials: [
    { index: 0, value: 0.31, status: 'FINISHED', stopped_early: false },
    { index: 1, value: null, status: 'FAILED', stopped_early: false },
    { index: 2, value: 0.12, status: 'FINISHED', stopped_early: true },
    { index: 3, value: 0.47, status: 'FINISHED', stopped_early: false },
    { index: 4, value: null, status: 'KILLED', stopped_early: false },
  ],
  best_index: bestIndex,
});

const SPECS: [string, ChartSpec][] = [
  ['trials', trials(3)],
  [
    'scatter',
    {
      kind: 'scatter',
      title: 'accuracy vs latency',
      x_label: 'latency (ms)',
      y_label: 'quant.det.mAP50',
      points: [
        { label: 'onnx_fp16', x: 3.1, y: 0.41 },
        { label: 'openvino_int8', x: 1.2, y: 0.39 },
      ],
      best_label: 'onnx_fp16',
    },
  ],
  [
    'heatmap',
    {
      kind: 'heatmap',
      title: 'generalisation',
      rows: ['yolov8n', 'yolov8s'],
      columns: ['plant1 v1', 'plant2 v1'],
      values: [
        [0.52, null],
        [0.33, 0.41],
      ],
      row_label: 'model',
      column_label: 'dataset',
    },
  ],
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gflow-charts-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renderChart (executors/charts.py, matplotlib offline)', () => {

  it.each(SPECS)('draws a %s chart as a real PNG and leaves no scratch files', async (kind, spec) => {
    const out = path.join(dir, kind, 'chart.png');
    await mkdir(path.dirname(out));
    await renderChart(python, spec, out);
    const { width, height } = pngSize(await readFile(out));
    expect(width).toBeGreaterThan(200);
    expect(height).toBeGreaterThan(200);
    expect(await readdir(path.dirname(out))).toEqual(['chart.png']);
  }, 60_000);

  it('highlights the best trial: specs differing only in best_index give different pictures', async () => {
    const [a, b] = [path.join(dir, 'best-3.png'), path.join(dir, 'best-0.png')];
    await renderChart(python, trials(3), a);
    await renderChart(python, trials(0), b);
    expect((await readFile(a)).equals(await readFile(b))).toBe(false);
  }, 60_000);

  it('refuses a spec without trials, naming the field', async () => {
    const bad: Record<string, unknown> = { ...trials(null) };
    delete bad.trials;
    const failure = await renderChart(python, bad as ChartSpec, path.join(dir, 'bad.png')).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ChartRenderError);
    expect((failure as ChartRenderError).message).toMatch(/bad spec: trials: expected list, missing/);
    expect((failure as ChartRenderError).cause).toBeDefined();
  }, 60_000);

  it('names the element of a list that is wrong', async () => {
    const spec = trials(null) as Extract<ChartSpec, { kind: 'trials' }>;
    const bad = { ...spec, trials: [...spec.trials, { index: 5, value: 'high', status: 'FINISHED', stopped_early: false }] };
    await expect(renderChart(python, bad as unknown as ChartSpec, path.join(dir, 'bad.png'))).rejects.toThrow(/trials\[5\]\.value: expected number or null/);
  }, 60_000);
});

/** This process's children that are charts.py waiting for a request (a warm renderer's spare). */
async function spareProcesses(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const [stat, cmdline] = await Promise.all([readFile(`/proc/${entry}/stat`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]).catch(() => ['', '']);
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid && state !== 'Z' && cmdline.includes('--request-on-stdin')) pids.push(Number(entry));
  }
  return pids;
}

describe('ChartRenderer: a warm process for the next chart, matplotlib cache kept', () => {

  it('draws with the process it started ahead, starts the next one after each chart, and stops it on close', async () => {
    const renderer = new ChartRenderer({ python, cacheDir: path.join(dir, 'mpl'), warm: true });
    try {
      const [first] = await spareProcesses();
      expect(first).toBeDefined();
      await renderChartWith(renderer, path.join(dir, 'one.png'));
      // the process that drew says `done` before its interpreter shuts down: it leaves just after
      await waitFor(async () => !(await spareProcesses()).includes(first));
      const [second, ...others] = await spareProcesses();
      expect(second).toBeDefined();
      expect(others).toEqual([]);
      await renderChartWith(renderer, path.join(dir, 'two.png'));
      await waitFor(async () => !(await spareProcesses()).includes(second));
      expect(await spareProcesses()).toHaveLength(1);
    } finally {
      renderer.close();
    }
    await waitFor(async () => (await spareProcesses()).length === 0);
  }, 60_000);

  it('still draws when its spare process was killed', async () => {
    const renderer = new ChartRenderer({ python, warm: true });
    try {
      const [spare, ...others] = await spareProcesses();
      expect(others).toEqual([]);
      process.kill(spare, 'SIGKILL');
      await waitFor(async () => !(await spareProcesses()).includes(spare));
      await renderChartWith(renderer, path.join(dir, 'after-kill.png'));
    } finally {
      renderer.close();
    }
  }, 60_000);

  it('keeps matplotlib’s font cache in cacheDir: built by the first chart, reused by the next', async () => {
    const cacheDir = path.join(dir, 'font-cache');
    await renderChart(python, trials(3), path.join(dir, 'cache-1.png'), cacheDir);
    const [fontList] = (await readdir(cacheDir)).filter((name) => name.startsWith('fontlist-'));
    expect(fontList).toBeDefined();
    const built = (await stat(path.join(cacheDir, fontList))).mtimeMs;
    await renderChart(python, trials(0), path.join(dir, 'cache-2.png'), cacheDir);
    expect((await stat(path.join(cacheDir, fontList))).mtimeMs).toBe(built);
  }, 60_000);

  it('does not keep Node running while it waits, and its spare exits when its stdin closes (the worker gone)', async () => {
    const keepingAlive = () => process.getActiveResourcesInfo().filter((type) => type === 'ProcessWrap' || type === 'PipeWrap').length;
    const before = keepingAlive();
    const renderer = new ChartRenderer({ python, warm: true });
    try {
      const [spare] = await spareProcesses();
      expect(spare).toBeDefined();
      expect(keepingAlive()).toBe(before);
    } finally {
      renderer.close();
    }
    const eof = spawnSync(python, [path.join(REPO, 'executors/charts.py'), '--request-on-stdin'], { input: '', timeout: 30_000 });
    expect(eof.status).toBe(0);
  }, 60_000);
});

async function renderChartWith(renderer: ChartRenderer, out: string): Promise<void> {
  await renderer.render(trials(3), out);
  expect(pngSize(await readFile(out)).width).toBeGreaterThan(200);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
