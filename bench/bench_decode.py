"""Decode benchmarks: kuzet against the strongest baselines measured in the same run.

- raw YUV (layout="native", threads=N) vs `ffmpeg -threads N -i F -f null -` (decode only, no output copy),
  both with N = the number of CPUs (kuzet's default, threads=0, is FFmpeg's choice: N + 1 frame threads);
- RGB numpy (layout="rgb") vs PyAV `to_ndarray(format="rgb24")` (frame+slice threads) and OpenCV VideoCapture;
- colour conversion alone, 1080p yuv420p -> rgb / bgr / planar rgb: kuzet's own SIMD converter vs swscale
  (the CPU device used swscale before; it keeps whichever measures faster);
- resident memory while decoding many frames stays flat.

Clips: a 1080p H.264 and a 1080p HEVC clip generated from testsrc2 in a temp dir, plus real clips from the
shared data. Run: PYTHONPATH=python python3 -m pytest bench/bench_decode.py -s --benchmark-columns=min,mean
Each figure is the best of ROUNDS runs, taken round-robin with the baselines; ratios > 1 mean kuzet is
faster. CPU ms per frame (all threads) is reported too: on a loaded shared box it is steadier than wall time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import kuzet
from memory import PeakRss, child_peak_rss_mb

ROUNDS = 3
THREADS = os.cpu_count() or 1
DATA = Path(
    os.environ.get("KUZET_DATA_DIR", Path(__file__).resolve().parent.parent.parent / "shared" / "data")
)
REAL_CLIPS = {
    "uk_plate_720p_h264": DATA / "plates/video/license_plate_uk.mp4",
    "phone_1080p_h264": DATA / "conformance/debian/phone_vfr_VID_20191220_170832.mp4",
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bench_decode")
    made = {}
    for name, codec in (
        ("testsrc_1080p_h264", ["libx264", "-preset", "veryfast"]),
        ("testsrc_1080p_hevc", ["libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"]),
    ):
        path = out / f"{name}.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1920x1080:rate=30",
                "-t",
                "10",
                "-c:v",
                *codec,
                "-pix_fmt",
                "yuv420p",
                str(path),
            ],
            check=True,
            timeout=300,
        )
        made[name] = path
    return {**made, **REAL_CLIPS}


CLIP_NAMES = ["testsrc_1080p_h264", "testsrc_1080p_hevc", *REAL_CLIPS]


class _Measure:
    """Best wall-clock fps and CPU seconds per frame of several implementations, measured round-robin
    (one run of each per round) so that load from other processes on a shared box hits all of them alike."""

    def __init__(self) -> None:
        self.best: dict[str, float] = {}
        self.cpu_ms: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}  # in-process: growth above the process; child: its whole peak

    def memory(self, runs: dict[str, Callable[[], object]], children: dict[str, list[str]]) -> None:
        """One more, unmeasured-for-time run of each: its peak memory (bench/memory.py)."""
        for name, fn in runs.items():
            with PeakRss() as mem:
                fn()
            self.peak_mb[name] = mem.growth_mb
        for name, command in children.items():
            self.peak_mb[name] = child_peak_rss_mb(command)

    def run(self, runs: dict[str, tuple[Callable[[], int], bool]], frames: int) -> None:
        for _ in range(ROUNDS):
            for name, (fn, in_child) in runs.items():
                who = resource.RUSAGE_CHILDREN if in_child else resource.RUSAGE_SELF
                before = resource.getrusage(who)
                start = time.perf_counter()
                fn()
                wall = time.perf_counter() - start
                after = resource.getrusage(who)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                self.best[name] = max(self.best.get(name, 0.0), frames / wall)
                self.cpu_ms[name] = min(self.cpu_ms.get(name, float("inf")), 1000 * cpu / frames)


def _kuzet(path: Path, layout: str, threads: int = 0) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with kuzet.VideoReader(path, layout=layout, device="cpu", threads=threads) as reader:  # type: ignore[arg-type]
            return sum(1 for _ in reader)


def _frame_count(path: Path) -> int:
    return _kuzet(path, "native")


def _ffmpeg_null_command(path: Path) -> list[str]:
    return ["ffmpeg", "-v", "error", "-threads", str(THREADS), "-i", str(path), "-f", "null", "-"]


def _ffmpeg_null(path: Path) -> int:
    subprocess.run(_ffmpeg_null_command(path), check=True, timeout=300)
    return -1  # counted separately


def _pyav_rgb(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for f in container.decode(stream) if f.to_ndarray(format="rgb24") is not None)


def _opencv_bgr(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return n


def _report(benchmark, name: str, m: _Measure) -> None:  # type: ignore[no-untyped-def]
    kuzet_fps = m.best["kuzet"]
    line = [f"{name}: kuzet {kuzet_fps:.1f} fps ({m.cpu_ms['kuzet']:.2f} ms CPU/frame)"]
    for impl, fps in m.best.items():
        benchmark.extra_info[f"{impl}_fps"] = round(fps, 1)
        benchmark.extra_info[f"{impl}_cpu_ms_per_frame"] = round(m.cpu_ms[impl], 3)
        if impl != "kuzet":
            benchmark.extra_info[f"ratio_vs_{impl}"] = round(kuzet_fps / fps, 3)
            line.append(f"{impl} {fps:.1f} fps ({m.cpu_ms[impl]:.2f} ms CPU/frame) x{kuzet_fps / fps:.2f}")
    for impl, mb in m.peak_mb.items():
        benchmark.extra_info[f"{impl}_peak_mb"] = round(mb, 1)
    if m.peak_mb:
        line.append("peak memory " + ", ".join(f"{impl} {mb:.0f} MB" for impl, mb in m.peak_mb.items()))
    print("\n" + ", ".join(line))


@pytest.mark.parametrize("clip", CLIP_NAMES)
def test_raw_yuv_vs_ffmpeg(benchmark, clips: dict[str, Path], clip: str) -> None:  # type: ignore[no-untyped-def]
    path = clips[clip]
    m = _Measure()
    m.run(
        {
            "ffmpeg_null": (lambda: _ffmpeg_null(path), True),
            "kuzet": (lambda: _kuzet(path, "native", THREADS), False),
        },
        _frame_count(path),
    )
    benchmark.pedantic(_kuzet, args=(path, "native", THREADS), rounds=1, iterations=1)
    # kuzet: growth above this process (frames handed out one at a time); ffmpeg: its whole process
    m.memory({"kuzet": lambda: _kuzet(path, "native", THREADS)}, {"ffmpeg_null": _ffmpeg_null_command(path)})
    _report(benchmark, f"{clip} raw yuv", m)


@pytest.mark.parametrize("clip", CLIP_NAMES)
def test_rgb_vs_pyav_and_opencv(benchmark, clips: dict[str, Path], clip: str) -> None:  # type: ignore[no-untyped-def]
    path = clips[clip]
    m = _Measure()
    m.run(
        {
            "pyav": (lambda: _pyav_rgb(path), False),
            "opencv": (lambda: _opencv_bgr(path), False),
            "kuzet": (lambda: _kuzet(path, "rgb"), False),
        },
        _frame_count(path),
    )
    benchmark.pedantic(_kuzet, args=(path, "rgb"), rounds=1, iterations=1)
    m.memory({"pyav": lambda: _pyav_rgb(path), "opencv": lambda: _opencv_bgr(path),
              "kuzet": lambda: _kuzet(path, "rgb")}, {})
    _report(benchmark, f"{clip} rgb", m)


CONVERT_REPEAT = 50


@pytest.mark.parametrize("layout", ["rgb", "bgr", "rgb_planar"])
def test_colour_conversion_vs_swscale(benchmark, clips: dict[str, Path], layout: str) -> None:  # type: ignore[no-untyped-def]
    """CPU time of one 1080p yuv420p -> RGB conversion (no decoding), best of ROUNDS x CONVERT_REPEAT."""
    from kuzet._native import core

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with kuzet.VideoReader(clips["testsrc_1080p_h264"], layout="yuv420p", device="cpu") as reader:
            frame = reader.read()
            m = reader.metadata
    assert frame is not None
    args = (frame.data, m.width, m.height, "yuv420p", "bt709", False, layout)
    ms: dict[str, float] = {}
    for _ in range(ROUNDS):
        for converter in ("swscale", "kuzet"):
            name = "auto" if converter == "kuzet" else converter
            # The hook copies the frame in first: time 1 + CONVERT_REPEAT conversions minus 1.
            start = time.process_time()
            core._yuv420_to_rgb(*args, name, 1)
            one = time.process_time() - start
            start = time.process_time()
            core._yuv420_to_rgb(*args, name, 1 + CONVERT_REPEAT)
            many = time.process_time() - start
            ms[converter] = min(ms.get(converter, float("inf")), 1000 * (many - one) / CONVERT_REPEAT)
    benchmark.pedantic(core._yuv420_to_rgb, args=(*args, "auto", 1), rounds=1, iterations=1)
    benchmark.extra_info.update({f"{k}_cpu_ms": round(v, 3) for k, v in ms.items()})
    benchmark.extra_info["simd_level"] = core._cpu_simd_level()
    benchmark.extra_info["speedup_vs_swscale"] = round(ms["swscale"] / ms["kuzet"], 2)
    print(
        f"\n1080p -> {layout}: kuzet ({core._cpu_simd_level()}) {ms['kuzet']:.3f} ms, swscale {ms['swscale']:.3f} ms"
        f" CPU, x{ms['swscale'] / ms['kuzet']:.2f}"
    )


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_stays_flat(benchmark) -> None:  # type: ignore[no-untyped-def]
    """6 x 1829 = 10,974 frames of 720p RGB (about 30 GB of output), a new reader for each pass: resident
    memory must not grow."""
    path = DATA / "conformance/debian/mwe_example-movie_60s.mp4"
    samples = []
    frames = [0]

    def run() -> int:
        for _ in range(6):
            with kuzet.VideoReader(path, layout="rgb", device="cpu") as reader:
                for frame in reader:
                    frames[0] += 1
                    if frame.index % 100 == 0:
                        samples.append(_rss_bytes())
        return len(samples)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()  # warm-up: codec and allocator pools reach their steady size
        samples.clear()
        frames[0] = 0
        benchmark.pedantic(run, rounds=1, iterations=1)
    growth = max(samples) - samples[0]
    benchmark.extra_info["rss_start_mb"] = round(samples[0] / 2**20, 1)
    benchmark.extra_info["rss_peak_mb"] = round(max(samples) / 2**20, 1)
    benchmark.extra_info["rss_growth_mb"] = round(growth / 2**20, 2)
    print(
        f"\nrss over {frames[0]} 720p frames: start {samples[0] / 2**20:.1f} MB, peak {max(samples) / 2**20:.1f} MB"
    )
    assert growth < 16 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MB while decoding"
