"""Decode benchmarks: kuzet against the strongest baselines measured in the same run.

- raw YUV (layout="native") vs `ffmpeg -threads N -i F -f null -` (decode only, no output copy);
- RGB numpy (layout="rgb") vs PyAV `to_ndarray(format="rgb24")` (frame+slice threads) and OpenCV VideoCapture;
- resident memory while decoding many frames stays flat.

Clips: a 1080p H.264 and a 1080p HEVC clip generated from testsrc2 in a temp dir, plus real clips from the
shared data. Run: PYTHONPATH=python python3 -m pytest bench/bench_decode.py -s --benchmark-columns=min,mean
Each kuzet figure is the best of ROUNDS runs, as is each baseline's; ratios > 1 mean kuzet is faster.
"""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import kuzet

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


def _best_fps(run: Callable[[], int]) -> float:
    best = float("inf")
    frames = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        frames = run()
        best = min(best, time.perf_counter() - start)
    return frames / best


def _kuzet(path: Path, layout: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with kuzet.VideoReader(path, layout=layout, device="cpu") as reader:  # type: ignore[arg-type]
            return sum(1 for _ in reader)


def _frame_count(path: Path) -> int:
    return _kuzet(path, "native")


def _ffmpeg_null(path: Path) -> int:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-threads", str(THREADS), "-i", str(path), "-f", "null", "-"],
        check=True,
        timeout=300,
    )
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


def _report(
    benchmark: pytest.FixtureRequest, name: str, kuzet_fps: float, baselines: dict[str, float]
) -> None:
    benchmark.extra_info["kuzet_fps"] = round(kuzet_fps, 1)  # type: ignore[attr-defined]
    line = [f"{name}: kuzet {kuzet_fps:.1f} fps"]
    for base, fps in baselines.items():
        benchmark.extra_info[f"{base}_fps"] = round(fps, 1)  # type: ignore[attr-defined]
        benchmark.extra_info[f"ratio_vs_{base}"] = round(kuzet_fps / fps, 3)  # type: ignore[attr-defined]
        line.append(f"{base} {fps:.1f} fps (x{kuzet_fps / fps:.2f})")
    print("\n" + ", ".join(line))


@pytest.mark.parametrize("clip", CLIP_NAMES)
def test_raw_yuv_vs_ffmpeg(benchmark, clips: dict[str, Path], clip: str) -> None:  # type: ignore[no-untyped-def]
    path = clips[clip]
    n = _frame_count(path)
    ffmpeg_fps = _best_fps(lambda: (_ffmpeg_null(path), n)[1])
    kuzet_fps = _best_fps(lambda: _kuzet(path, "native"))
    benchmark.pedantic(_kuzet, args=(path, "native"), rounds=1, iterations=1)
    _report(benchmark, f"{clip} raw yuv", kuzet_fps, {"ffmpeg_null": ffmpeg_fps})


@pytest.mark.parametrize("clip", CLIP_NAMES)
def test_rgb_vs_pyav_and_opencv(benchmark, clips: dict[str, Path], clip: str) -> None:  # type: ignore[no-untyped-def]
    path = clips[clip]
    pyav_fps = _best_fps(lambda: _pyav_rgb(path))
    opencv_fps = _best_fps(lambda: _opencv_bgr(path))
    kuzet_fps = _best_fps(lambda: _kuzet(path, "rgb"))
    benchmark.pedantic(_kuzet, args=(path, "rgb"), rounds=1, iterations=1)
    _report(benchmark, f"{clip} rgb", kuzet_fps, {"pyav": pyav_fps, "opencv": opencv_fps})


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_stays_flat(benchmark) -> None:  # type: ignore[no-untyped-def]
    """1829 frames of 720p RGB (about 5 GB of output in total): resident memory must not grow."""
    path = DATA / "conformance/debian/mwe_example-movie_60s.mp4"
    samples = []

    def run() -> int:
        with kuzet.VideoReader(path, layout="rgb", device="cpu") as reader:
            for frame in reader:
                if frame.index % 100 == 0:
                    samples.append(_rss_bytes())
        return len(samples)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run()  # warm-up: codec and allocator pools reach their steady size
        samples.clear()
        benchmark.pedantic(run, rounds=1, iterations=1)
    growth = max(samples) - samples[0]
    benchmark.extra_info["rss_start_mb"] = round(samples[0] / 2**20, 1)
    benchmark.extra_info["rss_peak_mb"] = round(max(samples) / 2**20, 1)
    benchmark.extra_info["rss_growth_mb"] = round(growth / 2**20, 2)
    print(
        f"\nrss over 1829 720p frames: start {samples[0] / 2**20:.1f} MB, peak {max(samples) / 2**20:.1f} MB"
    )
    assert growth < 16 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MB while decoding"
