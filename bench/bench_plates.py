"""Plates end to end: kuzet's batched PlatePipeline against a plain per-frame Python reference.

Both read the same 64 frames of the UK street clip with the same models (HyperLPR3-320 + PP-OCRv4) and must
give the same plate texts. The reference (bench/plates_reference.py) runs onnxruntime per frame and per
plate with OpenCV/numpy pre/post-processing; it is measured with 1 and with all intra-op threads and the
faster is the baseline. Run: PYTHONPATH=python python3 -m pytest bench/bench_plates.py -s
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kuzet.plates import PlateDetector, PlatePipeline, PlateReader

sys.path.insert(0, str(Path(__file__).parent))
from plates_reference import ReferencePlateReader  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))
MODEL_DIR = Path(os.environ.get("KUZET_MODEL_DIR", REPO.parent / "shared" / "models"))
FRAMES = 64
BATCH = 8
_times: dict[str, float] = {}


@pytest.fixture(scope="module")
def model_dir():
    return MODEL_DIR


@pytest.fixture(scope="module")
def frames():
    cap = cv2.VideoCapture(str(DATA_DIR / "plates" / "video" / "license_plate_uk.mp4"))
    out = []
    while len(out) < FRAMES:
        ok, bgr = cap.read()
        assert ok
        out.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    return out


@pytest.fixture(scope="module")
def expected(frames, model_dir):
    return [ReferencePlateReader(model_dir).process(f) for f in frames]


@pytest.mark.parametrize("threads", [1, 2])
def test_reference_per_frame(benchmark, frames, expected, model_dir, threads):
    reference = ReferencePlateReader(model_dir, threads=threads)
    result = benchmark.pedantic(lambda: [reference.process(f) for f in frames], rounds=5, warmup_rounds=1)
    assert result == expected
    _times[f"reference_threads{threads}"] = benchmark.stats.stats.min


def test_kuzet_batched_pipeline(benchmark, frames, expected, model_dir):
    pipeline = PlatePipeline(PlateDetector(model_dir=model_dir, device="cpu"),
                             PlateReader(model_dir=model_dir, device="cpu"))

    def run():
        texts = []
        for start in range(0, len(frames), BATCH):
            texts += [[r.raw_text for r in reads] for reads in pipeline.process(frames[start : start + BATCH])]
        return texts

    assert benchmark.pedantic(run, rounds=5, warmup_rounds=1) == expected
    _times["kuzet"] = benchmark.stats.stats.min


def test_report_ratio(benchmark):
    baseline = min(v for k, v in _times.items() if k.startswith("reference"))
    ratio = baseline / _times["kuzet"]
    benchmark.extra_info.update({k: round(v, 4) for k, v in _times.items()} | {"speedup": round(ratio, 2)})
    benchmark(lambda: None)
    print(f"\nplates, {FRAMES} frames: reference best {baseline:.3f} s "
          f"({baseline / FRAMES * 1000:.1f} ms/frame), kuzet {_times['kuzet']:.3f} s "
          f"({_times['kuzet'] / FRAMES * 1000:.1f} ms/frame): {ratio:.2f}x")
