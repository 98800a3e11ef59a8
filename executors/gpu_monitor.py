"""GPU figures of a job through NVML, shared by the executors that report them.

The benchmark samples memory, utilisation and power after each timed predict; training samples
utilisation on a background thread while `model.train` runs (its loop is ultralytics', so there
is no place to sample from inside it). On a host without an NVIDIA GPU or driver, or when the job
runs on the CPU, nothing is sampled and the figures are absent, never zero: a rule such as the
optimizer's "GPU under-used" must not fire on a CPU host (docs/architecture.md §5).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from types import ModuleType
from typing import Iterator

UTIL_KEY = "sys.gpu_util_pct"


def device_index(device: str) -> int:
    """The first GPU of an ultralytics device string: `0`, `cuda:1`, `0,1` (→ 0); `auto` is GPU 0."""
    digits = device.split(":")[-1].split(",")[0]
    return int(digits) if digits.isdigit() else 0


class GpuMonitor:
    """Samples the job's GPU through NVML; `nvml` is the pynvml module (a test passes a stand-in).

    Keeps running totals, not the samples: a training of days sampled every second stays small.
    """

    def __init__(self, device: str, nvml: ModuleType | None = None):
        self.handle = None
        self.samples = 0  # readings taken
        self._memory_peak = self._util_sum = self._power_sum = 0.0
        self._lock = threading.Lock()
        if device == "cpu":
            return
        try:
            if nvml is None:
                import pynvml as nvml

            nvml.nvmlInit()
            self.handle = nvml.nvmlDeviceGetHandleByIndex(device_index(device))
            self.nvml = nvml
        except Exception:  # noqa: BLE001 - no driver, no GPU: the figures stay absent
            self.handle = None

    def sample(self) -> None:
        if self.handle is None:
            return
        memory = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used / 2**20
        util = self.nvml.nvmlDeviceGetUtilizationRates(self.handle).gpu
        power = self.nvml.nvmlDeviceGetPowerUsage(self.handle) / 1000
        with self._lock:
            self.samples += 1
            self._memory_peak = max(self._memory_peak, memory)
            self._util_sum += util
            self._power_sum += power

    def metrics(self) -> dict[str, float]:
        """Peak memory, mean utilisation and mean power of the samples; empty when none was taken."""
        with self._lock:
            if not self.samples:
                return {}
            return {"sys.gpu_memory_peak_mb": self._memory_peak, UTIL_KEY: self._util_sum / self.samples, "sys.gpu_power_w": self._power_sum / self.samples}

    def utilisation(self) -> dict[str, float]:
        """Only the mean utilisation, `{sys.gpu_util_pct: …}`, as training logs it; empty when none was sampled."""
        return {k: v for k, v in self.metrics().items() if k == UTIL_KEY}

    @contextmanager
    def sampling(self, interval_s: float = 1.0) -> Iterator["GpuMonitor"]:
        """Samples every `interval_s` on a daemon thread while the block runs (the first sample at once).

        A failed NVML read ends the sampling quietly (the samples so far still count): GPU figures
        are a by-product of the job and must never fail it.
        """
        if self.handle is None:
            yield self
            return
        stop = threading.Event()

        def loop() -> None:
            try:
                while True:
                    self.sample()
                    if stop.wait(interval_s):
                        return
            except Exception:  # noqa: BLE001 - see the docstring
                return

        thread = threading.Thread(target=loop, name="gf-gpu-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
