import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadSettings } from '../../common/settings';

/**
 * executors/gpu_monitor.py, the NVML sampler training and the benchmark share, run by the venv's
 * Python against a stand-in NVML (test/fixtures/gpu_monitor_probe.py; no GPU here): the background
 * sampler's mean is the mean of the readings it took, and a CPU job or a host without the driver
 * produces no GPU metric at all (absent, not 0).
 */

const settings = loadSettings();
const PROBE = path.join(__dirname, '../fixtures/gpu_monitor_probe.py');

interface Probe {
  utilisation: Record<string, number>;
  metrics: Record<string, number>;
  samples: number;
  index: number | null;
  nvml_calls: number;
  sampler_threads: number;
}

async function probe(...args: string[]): Promise<Probe> {
  const { stdout } = await promisify(execFile)(settings.python, [PROBE, ...args]);
  return JSON.parse(stdout) as Probe;
}

describe('GPU monitor (NVML)', () => {
  it('samples in the background while the block runs: training logs the mean utilisation of every reading', async () => {
    const p = await probe('0', '30,50,70,95');
    expect(p.samples).toBe(4);
    expect(p.utilisation).toEqual({ 'sys.gpu_util_pct': 61.25 });
    expect(p.metrics).toEqual({ 'sys.gpu_memory_peak_mb': 512, 'sys.gpu_util_pct': 61.25, 'sys.gpu_power_w': 70 });
    expect(p.index).toBe(0);
    // the sampler thread is gone when the block ends
    expect(p.sampler_threads).toBe(0);
  }, 30_000);

  it('reads the GPU the device string names', async () => {
    const p = await probe('cuda:1', '10,20');
    expect([p.index, p.utilisation]).toEqual([1, { 'sys.gpu_util_pct': 15 }]);
  }, 30_000);

  it('a CPU job never touches NVML and logs no GPU metric', async () => {
    const p = await probe('cpu', '30,50');
    expect(p).toEqual(expect.objectContaining({ utilisation: {}, metrics: {}, samples: 0, nvml_calls: 0 }));
  }, 30_000);

  it('a host without the NVIDIA driver logs no GPU metric either', async () => {
    const p = await probe('0', '30,50', '--no-driver');
    expect(p).toEqual(expect.objectContaining({ utilisation: {}, metrics: {}, samples: 0, nvml_calls: 1 }));
  }, 30_000);
});
