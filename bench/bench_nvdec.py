"""NVDEC throughput: kuzet vs the ffmpeg CLI, 1 and 8 concurrent streams of generated 1080p H.264/HEVC.

kuzet: CudaVideoReader threads, every frame delivered as an RGB DeviceArray (NVDEC decode + CUDA colour
conversion + a fresh GPU buffer per frame). Baseline, measured in the same run: as many concurrent
``ffmpeg -hwaccel cuda -hwaccel_output_format cuda -i F -f null -`` processes (NVDEC decode only, frames
never leave the GPU and are not converted). Reported: aggregate frames/s of each and kuzet/ffmpeg.

Runs under pytest-benchmark (``pytest bench/bench_nvdec.py``) or alone (``python bench/bench_nvdec.py``);
skips cleanly where kuzet has no usable NVDEC or ffmpeg has no CUDA hwaccel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from memory import PeakGpuMemory, PeakRss  # noqa: E402

FRAMES = 600  # 20 s at 30 fps per stream
SIZE = "1920x1080"
ENCODERS = {"h264": ("libx264", "h264_nvenc"), "hevc": ("libx265", "hevc_nvenc")}
CONCURRENCY = (1, 8)


def nvdec_problem() -> str | None:
    """Why this benchmark cannot run here, or None."""
    try:
        from kuzet._native import core
    except ImportError as exc:
        return f"kuzet is not built ({exc})"
    if not hasattr(core, "nvdec_info"):
        return "this kuzet build has no NVDEC support"
    info = core.nvdec_info()
    if not info["available"]:
        return f"kuzet has no usable NVDEC: {info['reason']}"
    if not shutil.which("ffmpeg"):
        return "no ffmpeg CLI on PATH (the baseline)"
    hwaccels = subprocess.run(["ffmpeg", "-hide_banner", "-hwaccels"], capture_output=True, text=True).stdout
    if "cuda" not in hwaccels.split():
        return "this ffmpeg has no CUDA hwaccel (the baseline)"
    return None


def make_clip(codec: str, folder: Path) -> Path | None:
    """A generated 1080p30 clip (moving test pattern + noise, so it is not trivially compressible), made once per
    folder: a GPU machine without encoders gets the clips made elsewhere (KUZET_BENCH_CLIPS, scripts/gpu-carry.sh)."""
    path = folder / f"nvdec_{codec}.mp4"
    if path.exists():
        return path
    available = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    for encoder in ENCODERS[codec]:
        if f" {encoder} " not in available:
            continue
        source = ["-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=30,noise=alls=12:allf=t", "-frames:v", str(FRAMES)]
        encode = ["-pix_fmt", "yuv420p", "-c:v", encoder, "-b:v", "8M", "-g", "60"]
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source, *encode, str(path)]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            return path
    return None


def kuzet_fps(path: Path, streams: int) -> float:
    """Aggregate frames/s of `streams` concurrent CudaVideoReaders delivering RGB CUDA arrays."""
    from kuzet.cuda import CudaVideoReader

    counts = [0] * streams
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            with CudaVideoReader(path, layout="rgb") as reader:
                for frame in reader:
                    assert frame.data.shape == (1080, 1920, 3)
                    counts[k] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    assert counts == [FRAMES] * streams, counts
    return sum(counts) / elapsed


def ffmpeg_fps(path: Path, streams: int) -> float:
    """Aggregate frames/s of `streams` concurrent NVDEC ffmpeg processes (decode only)."""
    nvdec = ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", *nvdec, "-i", str(path), "-an", "-f", "null", "-"]
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(streams)]
    codes = [p.wait() for p in procs]
    elapsed = time.perf_counter() - start
    assert codes == [0] * streams, f"ffmpeg failed: {codes}"
    return streams * FRAMES / elapsed


def best_of(rounds: int, run: Callable[[], float]) -> float:
    return max(run() for _ in range(rounds))


def compare(path: Path, streams: int, rounds: int = 3) -> dict[str, float]:
    kuzet_fps(path, streams)  # warm-up: opens and pools the NVDEC sessions, loads the kernels
    ffmpeg = best_of(rounds, lambda: ffmpeg_fps(path, streams))
    ours = best_of(rounds, lambda: kuzet_fps(path, streams))
    return {"kuzet_fps": ours, "ffmpeg_fps": ffmpeg, "ratio": ours / ffmpeg}


# --- pytest-benchmark ---------------------------------------------------------------------------------------
try:
    import pytest
except ImportError:  # pragma: no cover - running as a script without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    _PROBLEM = nvdec_problem()

    @pytest.fixture(scope="module")
    def clips(tmp_path_factory):
        made = os.environ.get("KUZET_BENCH_CLIPS")
        folder = Path(made) if made else tmp_path_factory.mktemp("nvdec")
        return {codec: make_clip(codec, folder) for codec in ENCODERS}

    @pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))
    @pytest.mark.parametrize("streams", CONCURRENCY)
    @pytest.mark.parametrize("codec", list(ENCODERS))
    def test_nvdec_throughput(benchmark, clips, codec, streams):
        path = clips[codec]
        if path is None:
            pytest.skip(f"ffmpeg here has none of the encoders {ENCODERS[codec]} to generate a {codec} clip")
        ffmpeg = best_of(3, lambda: ffmpeg_fps(path, streams))
        kuzet_fps(path, streams)  # warm-up
        benchmark.pedantic(kuzet_fps, args=(path, streams), rounds=3, iterations=1)
        ours = streams * FRAMES / benchmark.stats["min"]
        # Memory, in runs of their own (never timed): device memory of each side, host memory of kuzet's process.
        with PeakGpuMemory() as ffmpeg_gpu:
            ffmpeg_fps(path, streams)
        with PeakGpuMemory() as kuzet_gpu, PeakRss() as kuzet_host:
            kuzet_fps(path, streams)
        benchmark.extra_info.update(
            {
                "codec": codec,
                "streams": streams,
                "kuzet_fps": ours,
                "ffmpeg_fps": ffmpeg,
                "ratio": ours / ffmpeg,
                "kuzet_gpu_peak_mb": kuzet_gpu.growth_mb,
                "ffmpeg_gpu_peak_mb": ffmpeg_gpu.growth_mb,
                "kuzet_host_growth_mb": kuzet_host.growth_mb,
            }
        )
        print(
            f"\n{codec} x{streams}: kuzet {ours:.0f} fps, ffmpeg {ffmpeg:.0f} fps, ratio {ours / ffmpeg:.2f}; "
            f"GPU memory at peak: kuzet {kuzet_gpu.growth_mb} MiB, ffmpeg {ffmpeg_gpu.growth_mb} MiB; "
            f"kuzet host memory growth {kuzet_host.growth_mb:.0f} MiB"
        )


def main() -> int:
    problem = nvdec_problem()
    if problem:
        print(f"skipped: {problem}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'codec':6} {'streams':>7} {'kuzet fps':>10} {'ffmpeg fps':>11} {'ratio':>6}")
        for codec in ENCODERS:
            path = make_clip(codec, Path(tmp))
            if path is None:
                print(f"{codec:6} skipped: none of the encoders {ENCODERS[codec]} is available")
                continue
            for streams in CONCURRENCY:
                r = compare(path, streams)
                print(
                    f"{codec:6} {streams:7d} {r['kuzet_fps']:10.0f} {r['ffmpeg_fps']:11.0f} {r['ratio']:6.2f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
