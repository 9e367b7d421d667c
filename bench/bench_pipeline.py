"""Multi-source runtime: aggregate throughput for 1, 4, 8, 16 sources (faces + plates on), against the same
number of independent single-source runs of the same pipeline, in the same run. Also how many 1080p 30 fps
cameras this machine sustains.

Run: KUZET_MODEL_DIR=... KUZET_DATA_DIR=... pytest bench/bench_pipeline.py
KUZET_BENCH_DEVICE=cuda runs it on the GPU (NVDEC decoding, CUDA execution provider; scripts/gpu-check.sh).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from kuzet.pipeline import Pipeline
from kuzet.video import VideoReader

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))
MODELS = Path(os.environ.get("KUZET_MODEL_DIR", REPO.parent / "shared" / "models"))
CLIP = DATA / "plates/video/license_plate_uk.mp4"  # 720p, 140 frames: a car with a plate
SAMPLE_FPS = 3.0  # frames analysed per second of video per source, as a camera deployment would sample
DEVICE = os.environ.get("KUZET_BENCH_DEVICE", "cpu")


# Where the last run's sources were decoded and whether their frames stayed in GPU memory (printed with the
# figures: on a GPU machine NVDEC should decode every source into GPU memory).
LAST_DECODERS: set[str] = set()


def _run(sources: list[str], **options: object) -> tuple[float, int]:
    pipeline = Pipeline(("faces", "plates"), device=DEVICE, model_dir=MODELS, fps=SAMPLE_FPS, **options)  # type: ignore[arg-type]
    start = time.perf_counter()
    # a source that fails ends as an event, not an exception: a benchmark of failing sources would time nothing
    failures = [event.data for event in pipeline.run(sources) if event.kind == "source_error"]
    elapsed = time.perf_counter() - start
    assert not failures, f"{len(failures)} source(s) failed, e.g. {failures[0]}"
    analysed = [s.analysed for s in pipeline.metrics.sources.values()]
    assert len(analysed) == len(sources) and all(analysed), analysed
    LAST_DECODERS.clear()
    LAST_DECODERS.update(f"{s.decoder}{' (frames in GPU memory)' if s.gpu_frames else ''}"
                         for s in pipeline.metrics.sources.values())
    return elapsed, sum(analysed)


@pytest.mark.parametrize("n", [1, 4, 8, 16])
def test_sources_together_vs_independent_runs(benchmark, n):
    _run([str(CLIP)])  # warm up: models loaded and cached
    independent = 0.0
    for _ in range(n):
        elapsed, _ = _run([str(CLIP)])
        independent += elapsed
    together, analysed = benchmark.pedantic(_run, args=([str(CLIP)] * n,), rounds=1, iterations=1)
    benchmark.extra_info.update({
        "sources": n, "frames_analysed": analysed, "together_fps": analysed / together,
        "independent_fps": analysed / independent, "ratio": independent / together,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "decoded_on": sorted(LAST_DECODERS),
    })
    print(f"\n{n:2d} sources: together {analysed / together:6.1f} fps, independent runs "
          f"{analysed / independent:6.1f} fps, ratio {independent / together:.2f}x, "
          f"peak RSS {benchmark.extra_info['peak_rss_mb']:.0f} MB, decoded on {', '.join(sorted(LAST_DECODERS))}")


def make_1080p_clip(folder: Path) -> Path:
    """The real street clip scaled to 1080p (same content, camera size), made once per folder: a GPU machine
    without encoders gets it made elsewhere (KUZET_BENCH_CLIPS, scripts/gpu-carry.sh)."""
    clip = folder / "street_1080p.mp4"
    if not clip.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(CLIP), "-vf", "scale=1920:1080", "-c:v", "libx264",
                        "-g", "30", "-an", str(clip)], check=True)
    return clip


def test_cameras_sustained_at_1080p(benchmark, tmp_path):
    made = os.environ.get("KUZET_BENCH_CLIPS")
    clip = make_1080p_clip(Path(made) if made else tmp_path)
    _run([str(clip)])
    # Same run, for comparison: readers that hand out every frame as RGB and leave sampling to the pipeline's
    # Python sampler (what the pipeline did before its readers sampled natively).
    threads = max(1, (os.cpu_count() or 1) // 4)

    def converting_reader(url: str) -> VideoReader:
        return VideoReader(url, device="cpu" if DEVICE == "cpu" else "auto", threads=threads, errors="skip")

    elapsed_converting, _ = _run([str(clip)] * 4, open_source=converting_reader)
    elapsed, analysed = benchmark.pedantic(_run, args=([str(clip)] * 4,), rounds=1, iterations=1)
    # every frame of every camera is decoded; faces and plates run on SAMPLE_FPS frames per camera-second
    video_seconds = 4 * 140 / 30
    cameras = video_seconds / elapsed
    benchmark.extra_info.update({"analysed_fps": analysed / elapsed, "cameras_sustained": cameras,
                                 "cameras_sustained_converting_every_frame": video_seconds / elapsed_converting,
                                 "decoded_on": sorted(LAST_DECODERS)})
    print(f"\n1080p 30 fps cameras, faces+plates on {SAMPLE_FPS:.0f} frames/s each: {cameras:.2f} cameras "
          f"sustained ({analysed / elapsed:.1f} analysed frames/s, all frames decoded); readers converting every "
          f"frame to RGB (sampling in Python): {video_seconds / elapsed_converting:.2f} cameras; decoded on "
          f"{', '.join(sorted(LAST_DECODERS))}")
