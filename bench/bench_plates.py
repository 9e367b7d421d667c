"""Plates end to end: kuzet's batched PlatePipeline against a plain per-frame Python reference.

Both read the same 64 frames of the UK street clip with the same models (HyperLPR3-320 + PP-OCRv4) and must
give the same plate texts after the UK format (raw reads may differ on an ambiguous I/1 in a few frames).
The reference (bench/plates_reference.py) runs onnxruntime per frame and per plate with OpenCV/numpy
pre/post-processing; it is measured with 1 and with 2 intra-op threads and the faster is the baseline. kuzet
loads the recogniser as an equivalent graph with fewer elementwise passes (kuzet/models/fusion.py); the
reference runs the file as shipped, as a plain reader does, and is also timed on kuzet's rewritten graph (a
breakdown, printed beside the ratio) to show what the rewrites give and what the pipeline gives.
Run: PYTHONPATH=python python3 -m pytest bench/bench_plates.py -s
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kuzet.plates import FormatSet, PlateDetector, PlatePipeline, PlateReader

sys.path.insert(0, str(Path(__file__).parent))
from memory import fresh_process_peak_mb  # noqa: E402
from plates_reference import ReferencePlateReader  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))
MODEL_DIR = Path(os.environ.get("KUZET_MODEL_DIR", REPO.parent / "shared" / "models"))
FRAMES = 64
BATCH = 8


@pytest.fixture(scope="module")
def model_dir():
    return MODEL_DIR


def load_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DATA_DIR / "plates" / "video" / "license_plate_uk.mp4"))
    out = []
    while len(out) < FRAMES:
        ok, bgr = cap.read()
        assert ok
        out.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return out


@pytest.fixture(scope="module")
def frames():
    return load_frames()


def new_pipeline() -> PlatePipeline:
    return PlatePipeline(PlateDetector(model_dir=MODEL_DIR, device="cpu"),
                         PlateReader(model_dir=MODEL_DIR, device="cpu"), formats=("uk",))


def read_all(side: str) -> None:
    """One side's whole job on the 64 frames (run in a fresh process for its peak memory)."""
    frames = load_frames()
    if side == "kuzet":
        pipeline = new_pipeline()
        for start in range(0, len(frames), BATCH):
            pipeline.process(frames[start : start + BATCH])
    else:
        reference = ReferencePlateReader(MODEL_DIR, threads=1)
        for f in frames:
            reference.process(f)


def resolved(texts: list[list[str]]) -> list[list[str]]:
    uk = FormatSet(["uk"])
    return [[uk.resolve(t).text for t in frame] for frame in texts]


@pytest.fixture(scope="module")
def expected(frames, model_dir):
    """The reference's raw reads per frame (before the UK format)."""
    return [ReferencePlateReader(model_dir).process(f) for f in frames]


ROUNDS = 5


def test_plates_end_to_end_vs_per_frame_reference(benchmark, frames, expected, model_dir):
    """Interleaved rounds (the box is shared, so load drifts): best of ROUNDS per contender and the median
    of the per-round ratios against the faster reference."""
    references = {threads: ReferencePlateReader(model_dir, threads=threads) for threads in (1, 2)}
    # Breakdown only (not a baseline of the target): the 1-thread reference running the recogniser graph as
    # kuzet's loader rewrites it, to tell the rewrites' gain from the pipeline's.
    rewritten = ReferencePlateReader(model_dir, threads=1, rewritten=True)
    pipeline = new_pipeline()

    def kuzet_run():
        reads = []
        for start in range(0, len(frames), BATCH):
            reads += pipeline.process(frames[start : start + BATCH])
        return reads

    def texts(reads):
        return [[r.text for r in frame] for frame in reads]

    # Equal results: the same plates with the same (UK-resolved) texts in every frame. Raw reads may differ
    # where the recogniser hesitates between I and 1 (0.6 confidence): OpenCV's fixed-point uint8 resize and
    # kuzet's float resize give slightly different inputs; those frames are counted and reported.
    first = kuzet_run()
    assert texts(first) == resolved(expected)
    raw_differences = sum([r.raw_text for r in frame] != e for frame, e in zip(first, expected, strict=True))
    assert raw_differences <= len(frames) // 20
    for reference in references.values():
        assert [reference.process(f) for f in frames] == expected
    assert resolved([rewritten.process(f) for f in frames]) == resolved(expected)
    times: dict[str, list[float]] = {"reference_1_thread": [], "reference_2_threads": [],
                                     "reference_1_thread_rewritten_graph": [], "kuzet": []}
    cpu: dict[str, list[float]] = {k: [] for k in times}  # CPU time of the process (all threads)
    contenders = {f"reference_{threads}_thread{'s' if threads > 1 else ''}": reference
                  for threads, reference in references.items()}
    contenders["reference_1_thread_rewritten_graph"] = rewritten
    for _ in range(ROUNDS):
        for key, reference in contenders.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for f in frames:
                reference.process(f)
            times[key].append(time.perf_counter() - t0)
            cpu[key].append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        kuzet_run()
        times["kuzet"].append(time.perf_counter() - t0)
        cpu["kuzet"].append(time.process_time() - c0)
    best = {k: min(v) for k, v in times.items()}
    baseline_key = min(("reference_1_thread", "reference_2_threads"), key=best.__getitem__)
    paired = statistics.median(b / k for b, k in zip(times[baseline_key], times["kuzet"], strict=True))
    ratio = best[baseline_key] / best["kuzet"]
    benchmark.extra_info.update({f"{k}_s": round(v, 4) for k, v in best.items()})
    best_cpu = {k: min(v) for k, v in cpu.items()}
    cores = len(os.sched_getaffinity(0))
    ceiling = cores * best_cpu[baseline_key] / best_cpu["kuzet"]  # the most the cores allow, at these CPU costs
    benchmark.extra_info.update({"baseline": baseline_key, "speedup_best": round(ratio, 2),
                                 "speedup_median_paired": round(paired, 2), "cpu_bound_ceiling": round(ceiling, 2),
                                 "load_average": os.getloadavg()[0]})
    benchmark.extra_info.update({f"{k}_cpu_s": round(v, 4) for k, v in best_cpu.items()})
    assert texts(benchmark.pedantic(kuzet_run, rounds=1, iterations=1)) == resolved(expected)
    # Peak memory of each side: its whole job (models, the 64 decoded frames, working memory) in a new process.
    peak = {side: fresh_process_peak_mb("bench_plates", "read_all", side) for side in ("reference", "kuzet")}
    benchmark.extra_info.update({f"peak_rss_mb_{side}": round(mb, 1) for side, mb in peak.items()})
    print(f"\nplates, {FRAMES} frames, best of {ROUNDS}: " + ", ".join(
        f"{k} {v:.3f} s ({v / FRAMES * 1000:.1f} ms/frame)" for k, v in best.items())
        + f"; baseline {baseline_key}: {ratio:.2f}x (median of paired rounds {paired:.2f}x); "
        f"vs the 2-thread reference {best['reference_2_threads'] / best['kuzet']:.2f}x; vs the 1-thread reference "
        f"given kuzet's rewritten recogniser graph (breakdown) "
        f"{best['reference_1_thread_rewritten_graph'] / best['kuzet']:.2f}x; "
        f"frames whose raw read differs from the reference: {raw_differences}/{FRAMES}")
    print(f"  CPU time (best of {ROUNDS}): " + ", ".join(f"{k} {v * 1000 / FRAMES:.1f} ms/frame" for k, v in
                                                       best_cpu.items())
          + f"; on {cores} cores kuzet can be at most {ceiling:.2f}x faster than {baseline_key}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  peak memory, each side alone in a new process (64 decoded frames = 169 MB included): reference "
          f"(1 thread) {peak['reference']:.0f} MB, kuzet {peak['kuzet']:.0f} MB")
