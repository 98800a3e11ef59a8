import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSettings } from '../../common/settings';

/**
 * executors/benchmark.py's per-batch-size timing, run by the venv's Python against a stand-in
 * model and CUDA allocator (test/fixtures/benchmark_latency_probe.py; no GPU here): ultralytics'
 * per-image stage times become per-batch-call figures, and on a GPU each batch size's memory is
 * its own peak (the allocator's peak is reset before each), while a CPU job logs none (absent, not 0).
 * The real path on CPU is test/e2e/benchmark-batch-size.test.ts.
 */

const settings = loadSettings();
const PROBE = path.join(__dirname, '../fixtures/benchmark_latency_probe.py');

async function probe(device: string, batchSizes: string): Promise<{ metrics: Record<string, number>; resets: number }> {
  const { stdout } = await promisify(execFile)(settings.python, [PROBE, device, batchSizes]);
  return JSON.parse(stdout) as { metrics: Record<string, number>; resets: number };
}

describe('benchmark latency per batch size', () => {
  it('splits each batch call into pre-process, inference and post-process (per image × batch); the smallest batch size also as sys.*', async () => {
    const { metrics } = await probe('cpu', '8,2');
    expect([metrics['sys.bs8.preprocess_ms'], metrics['sys.bs8.inference_ms'], metrics['sys.bs8.postprocess_ms']]).toEqual([8, 16, 4]);
    expect([metrics['sys.bs2.preprocess_ms'], metrics['sys.bs2.inference_ms'], metrics['sys.bs2.postprocess_ms']]).toEqual([2, 4, 1]);
    expect([metrics['sys.preprocess_ms'], metrics['sys.inference_ms'], metrics['sys.postprocess_ms']]).toEqual([2, 4, 1]);
  }, 60_000);

  it('on a GPU: the peak memory of each batch size, reset before each (a small batch after a large one reads its own)', async () => {
    const { metrics, resets } = await probe('0', '4,1');
    expect(resets).toBe(2);
    expect([metrics['sys.bs4.gpu_memory_mb'], metrics['sys.bs1.gpu_memory_mb']]).toEqual([400, 100]);
    expect(metrics['sys.gpu_memory_mb']).toBeUndefined();
  }, 60_000);

  it('on the CPU: no GPU memory figure at all, even where torch sees a GPU', async () => {
    const { metrics, resets } = await probe('cpu', '4,1');
    expect(resets).toBe(0);
    expect(Object.keys(metrics).filter((k) => k.includes('gpu'))).toEqual([]);
  }, 60_000);
});
