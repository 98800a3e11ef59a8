import { CPU_DEVICE, DeviceSlots, hostDevices, onDevice } from '../../activities/gpu/devices';
import { loadSettings } from '../../common/settings';

/** Issue 11 item 1: which devices a GPU host hands out, and how a job is shown its own. */

describe('GPU devices of a host', () => {
  const nvml = [
    { index: '0', name: 'NVIDIA H100' },
    { index: '1', name: 'NVIDIA H100' },
  ];

  it('takes GF_GPU_DEVICES when set (named from NVML where it knows them), else every GPU NVML sees, else the CPU', () => {
    expect(hostDevices(undefined, nvml)).toEqual(nvml);
    expect(hostDevices(undefined, [])).toEqual([CPU_DEVICE]);
    expect(hostDevices(['1', '3'], nvml)).toEqual([{ index: '1', name: 'NVIDIA H100' }, { index: '3', name: 'gpu 3' }]);
    expect(hostDevices(['cpu'], nvml)).toEqual([CPU_DEVICE]);
  });

  it('gives each job the least busy device, at most slotsPerDevice per device, and takes it back once', () => {
    const slots = new DeviceSlots([{ index: '0', name: 'a' }, { index: '1', name: 'b' }], 2);
    expect(slots.slots).toBe(4);
    const leases = [slots.acquire(), slots.acquire(), slots.acquire()];
    expect(leases.map((l) => l.device.index)).toEqual(['0', '1', '0']);
    leases[0].release();
    leases[0].release();
    expect(slots.acquire().device.index).toBe('0');
    expect(slots.acquire().device.index).toBe('1');
    expect(() => slots.acquire()).toThrow(/every device is busy \(4 slots\)/);
  });

  it('shows a job its GPU alone (CUDA_VISIBLE_DEVICES) as device 0; a CPU scenario or host stays as it is', () => {
    const gpu3 = { index: '3', name: 'gpu 3' };
    expect(onDevice(gpu3, 'cuda:2')).toEqual({ env: { CUDA_VISIBLE_DEVICES: '3' }, device: 'cuda:0' });
    expect(onDevice(gpu3, '0,1')).toEqual({ env: { CUDA_VISIBLE_DEVICES: '3' }, device: '0' });
    expect(onDevice(gpu3, 'auto')).toEqual({ env: { CUDA_VISIBLE_DEVICES: '3' }, device: '0' });
    expect(onDevice(gpu3, 'cpu')).toEqual({ env: { CUDA_VISIBLE_DEVICES: '3' }, device: 'cpu' });
    expect(onDevice(CPU_DEVICE, 'auto')).toEqual({ env: {}, device: 'auto' });
  });

  it('reads GF_GPU_DEVICES and GF_GPU_SLOTS_PER_DEVICE (GF_GPU_SLOTS its older name), refusing bad lists by name', () => {
    expect(loadSettings({ GF_GPU_DEVICES: '0,1,2,3', GF_GPU_SLOTS_PER_DEVICE: '2' }).gpu).toMatchObject({ devices: ['0', '1', '2', '3'], slots: 2 });
    expect(loadSettings({ GF_GPU_SLOTS: '3' }).gpu).toMatchObject({ slots: 3 });
    expect(loadSettings({}).gpu.devices).toBeUndefined();
    expect(loadSettings({ GF_GPU_DEVICES: 'cpu' }).gpu.devices).toEqual(['cpu']);
    for (const bad of ['0,0', 'gpu0', '0,cpu', '1,,2']) expect(() => loadSettings({ GF_GPU_DEVICES: bad })).toThrow(`GF_GPU_DEVICES: expected cpu or distinct GPU indices such as 0,1,2,3, got "${bad}"`);
  });
});
