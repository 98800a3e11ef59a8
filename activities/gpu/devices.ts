import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/** One device of a GPU host: an NVML index (`0`, `1`, …) with its name, or the CPU of a host without GPUs. */
export interface Device {
  index: string;
  name: string;
}

export const CPU_DEVICE: Device = { index: 'cpu', name: 'cpu' };

/** NVML's view of this host, from the executors' Python (pynvml); empty where there is no GPU or driver. */
const LIST_GPUS = `
import json
try:
    import pynvml
    pynvml.nvmlInit()
    gpus = [{"index": str(i), "name": pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))} for i in range(pynvml.nvmlDeviceGetCount())]
except Exception:
    gpus = []
print(json.dumps([{"index": g["index"], "name": g["name"].decode() if isinstance(g["name"], bytes) else g["name"]} for g in gpus]))
`;

export async function detectGpus(python: string): Promise<Device[]> {
  try {
    const { stdout } = await promisify(execFile)(python, ['-c', LIST_GPUS], { timeout: 30_000 });
    return JSON.parse(stdout) as Device[];
  } catch {
    return [];
  }
}

/**
 * The devices a GPU worker hands out: the configured ones (`GF_GPU_DEVICES`, each named from NVML
 * when it knows it), else every GPU NVML sees, else the CPU.
 */
export function hostDevices(configured: string[] | undefined, detected: Device[]): Device[] {
  if (configured === undefined) return detected.length > 0 ? detected : [CPU_DEVICE];
  return configured.map((index) => (index === 'cpu' ? CPU_DEVICE : (detected.find((d) => d.index === index) ?? { index, name: `gpu ${index}` })));
}

/** A device held by one job until `release`. */
export interface DeviceLease {
  device: Device;
  release(): void;
}

/**
 * Gives each job of a GPU worker its own device: `slotsPerDevice` jobs at most on one device, the
 * next job on the least busy one (the lowest index among equals). The worker takes at most
 * devices × slotsPerDevice jobs at once, so a lease is always there; one that is not is a bug.
 */
export class DeviceSlots {
  readonly #busy: Map<string, number>;

  constructor(
    readonly devices: Device[],
    readonly slotsPerDevice: number,
  ) {
    this.#busy = new Map(devices.map((d) => [d.index, 0]));
  }

  get slots(): number {
    return this.devices.length * this.slotsPerDevice;
  }

  acquire(): DeviceLease {
    const device = this.devices.reduce((best, d) => (this.#busy.get(d.index)! < this.#busy.get(best.index)! ? d : best));
    const busy = this.#busy.get(device.index)!;
    if (busy >= this.slotsPerDevice) throw new Error(`every device is busy (${this.slots} slots): the worker took more jobs than it has slots`);
    this.#busy.set(device.index, busy + 1);
    let released = false;
    return {
      device,
      release: () => {
        if (released) return;
        released = true;
        this.#busy.set(device.index, this.#busy.get(device.index)! - 1);
      },
    };
  }
}

/**
 * What an executor on `device` is told: the environment that shows it that GPU alone
 * (`CUDA_VISIBLE_DEVICES`), and the scenario's device as the process then sees it (its only GPU
 * is `0`; a CPU scenario stays on the CPU).
 */
export function onDevice(device: Device, scenarioDevice: string): { env: NodeJS.ProcessEnv; device: string } {
  if (device.index === 'cpu') return { env: {}, device: scenarioDevice };
  return { env: { CUDA_VISIBLE_DEVICES: device.index }, device: scenarioDevice === 'cpu' ? 'cpu' : scenarioDevice.startsWith('cuda') ? 'cuda:0' : '0' };
}
