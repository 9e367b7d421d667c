"""NV12 frames into a model input (issue #4): kuzet's one pass (preprocess_batch(pixel_format="nv12"):
resize + YUV->RGB + BGR + normalise straight into NCHW float32) against the two-pass way with the fastest
pieces at hand: OpenCV's NV12 -> RGB conversion (cv2.cvtColor, SIMD) then kuzet's own RGB preprocess_batch,
and the all-OpenCV way (cvtColor + resize + numpy normalise). Frames: 16 real 1280x720 NV12 frames decoded
by kuzet. Peak memory: the extra RGB frames the two-pass way allocates (kuzet's pass allocates none).

Run: PYTHONPATH=python python3 -m pytest bench/bench_preprocess_nv12.py -s
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest

import kuzet
from kuzet._native import core
from memory import array_peak_mb
from timing import best_of as best_of_n

best_of = partial(best_of_n, repeats=7)  # these primitives take milliseconds: more runs

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))
OUT = 640
NORM = {"channel_order": "bgr", "mean": (104.0, 117.0, 123.0), "scale": (1.0, 1.0, 1.0), "fit": "letterbox_topleft"}


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reader = kuzet.VideoReader(DATA / "plates" / "video" / "license_plate_uk.mp4", layout="nv12", device="cpu")
        h, w = reader.metadata.height, reader.metadata.width
        out = [f.data.reshape(h * 3 // 2, w) for i, f in zip(range(16), reader, strict=False)]
    return out



def two_pass_kuzet(frames: list[np.ndarray], out: np.ndarray) -> None:
    rgb = [cv2.cvtColor(f, cv2.COLOR_YUV2RGB_NV12) for f in frames]
    core.preprocess_batch(rgb, OUT, OUT, out=out, **NORM)


def all_opencv(frames: list[np.ndarray], out: np.ndarray) -> None:
    for i, f in enumerate(frames):
        bgr = cv2.cvtColor(f, cv2.COLOR_YUV2BGR_NV12)
        h, w = bgr.shape[:2]
        s = min(OUT / w, OUT / h)
        nw, nh = round(w * s), round(h * s)
        out[i] = -np.array(NORM["mean"], np.float32)[:, None, None]  # pad value 0 after normalising
        out[i, :, :nh, :nw] = (cv2.resize(bgr, (nw, nh)).astype(np.float32) - NORM["mean"]).transpose(2, 0, 1)


def test_nv12_preprocess_vs_two_pass(benchmark, frames) -> None:  # type: ignore[no-untyped-def]
    buf = np.empty((len(frames), 3, OUT, OUT), np.float32)
    ref = np.empty_like(buf)
    one_pass = {"pixel_format": "nv12", "color_space": "bt601", **NORM}
    core.preprocess_batch(frames, OUT, OUT, out=buf, **one_pass)
    two_pass_kuzet(frames, ref)
    assert np.abs(buf - ref).mean() < 3.0  # the same picture (OpenCV's own BT.601 maths differ slightly)
    kuzet_s = best_of(lambda: core.preprocess_batch(frames, OUT, OUT, out=buf, **one_pass))
    two_pass_s = best_of(lambda: two_pass_kuzet(frames, ref))
    opencv_s = best_of(lambda: all_opencv(frames, ref), repeats=3)
    h, w = frames[0].shape[0] * 2 // 3, frames[0].shape[1]
    extra_mib = len(frames) * h * w * 3 / 2**20
    mem = {name: array_peak_mb(fn) for name, fn in (
        ("kuzet", lambda: core.preprocess_batch(frames, OUT, OUT, out=buf, **one_pass)),
        ("two_pass", lambda: two_pass_kuzet(frames, ref)), ("opencv", lambda: all_opencv(frames, ref)))}
    benchmark.extra_info.update({f"{k}_peak_mb": round(v, 2) for k, v in mem.items()})
    print(f"\nNV12 {w}x{h} x{len(frames)} -> {OUT}x{OUT}: kuzet one pass {kuzet_s * 1e3:.1f} ms, "
          f"cvtColor + kuzet RGB {two_pass_s * 1e3:.1f} ms ({two_pass_s / kuzet_s:.2f}x), "
          f"all OpenCV {opencv_s * 1e3:.1f} ms ({opencv_s / kuzet_s:.2f}x); "
          f"two-pass extra RGB frames {extra_mib:.1f} MiB; peak memory allocated beyond the output: kuzet "
          f"{mem['kuzet']:.1f} MB, two-pass {mem['two_pass']:.1f} MB, all OpenCV {mem['opencv']:.1f} MB")
    benchmark.pedantic(lambda: core.preprocess_batch(frames, OUT, OUT, out=buf, **one_pass), rounds=5)
