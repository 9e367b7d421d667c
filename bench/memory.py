"""Peak memory of one side of a benchmark, measured in the same run as its timing.

In-process work (kuzet, numpy/OpenCV/onnxruntime references): `PeakRss` samples the process's resident set
(/proc/self/statm) every millisecond while the region runs and reports the peak above what the process held
when the region began (so what one side needs, not what earlier runs left behind). Child processes (ffmpeg,
openssl): `child_peak_rss_mb` runs the command and follows that child's own high-water mark. Calls of a few
milliseconds (pre-processing primitives) are too short to sample: `array_peak_mb` counts the peak of the
memory they allocate through numpy (arrays, OpenCV's and kuzet's outputs alike) with tracemalloc. Timed runs
stay unmeasured: measure memory in a separate run of the same work. A whole pipeline against its reference
(models, arenas, frames): `fresh_process_peak_mb` runs one side in a new Python process and reports that
process's peak, so neither side inherits the other's allocations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE


class PeakRss:
    """`with PeakRss() as mem: work()`, then `mem.growth_mb` (peak minus start) and `mem.peak_mb`."""

    def __init__(self, interval_s: float = 0.001):
        self.interval_s = interval_s
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="bench-rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak = max(self.peak, _rss_bytes())

    def __enter__(self) -> PeakRss:
        self.start = self.peak = _rss_bytes()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def child_peak_rss_mb(command: Sequence[str], interval_s: float = 0.002) -> float:
    """Runs `command` (output discarded) and returns its peak resident set in MiB (raises if it fails).

    Read from the child's own high-water mark (VmHWM, which exec resets) while it runs: wait4's ru_maxrss would
    count the pages of this (large) process that the child held between fork and exec."""
    proc = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kib = 0
    status = f"/proc/{proc.pid}/status"
    while proc.poll() is None:
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass  # between exit and reaping
        time.sleep(interval_s)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(command))
    return peak_kib / 1024


def array_peak_mb(fn: Callable[[], object]) -> float:
    """Peak MiB allocated through numpy's allocator (and Python objects) during one call of fn, above the start."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


def fresh_process_peak_mb(module: str, function: str, *args: str) -> float:
    """Peak resident set (MiB) of a new Python process that imports bench module `module` and calls
    `function(*args)`: everything one side needs (interpreter, libraries, models, frames, working memory)."""
    bench = Path(__file__).resolve().parent
    code = (f"import sys; sys.path[:0] = [{str(bench)!r}, {str(bench.parent / 'python')!r}]\n"
            f"import importlib; importlib.import_module({module!r}).{function}(*{list(args)!r})\n"
            "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


class PeakGpuMemory:
    """`with PeakGpuMemory() as gpu: work()`, then `gpu.growth_mb`: the peak of the device's used memory above
    what it held when the region began, as `nvidia-smi` reports it every `interval_ms` (the whole device: this
    process, its threads and any child, e.g. ffmpeg processes). NVDEC surfaces, kuzet's and onnxruntime's pools
    and CUDA contexts all count. `growth_mb` is None where nvidia-smi is missing or gives no reading."""

    def __init__(self, device: int = 0, interval_ms: int = 20):
        self.command = ["nvidia-smi", f"--id={device}", "--query-gpu=memory.used", "--format=csv,noheader,nounits",
                        f"--loop-ms={interval_ms}"]
        self.readings: list[int] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.strip().isdigit():
                self.readings.append(int(line))

    def __enter__(self) -> PeakGpuMemory:
        try:
            self._proc = subprocess.Popen(self.command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        except OSError:
            return self
        self._thread = threading.Thread(target=self._read, name="bench-gpu-memory", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 2.0
        while not self.readings and time.monotonic() < deadline and self._proc.poll() is None:
            time.sleep(0.005)  # the first reading is the baseline
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._proc is not None:
            time.sleep(0.05)  # one more reading at the end of the region
            self._proc.terminate()
            self._proc.wait()
        if self._thread is not None:
            self._thread.join()

    @property
    def growth_mb(self) -> float | None:
        return float(max(self.readings) - self.readings[0]) if self.readings else None  # nvidia-smi gives MiB
