"""Vision primitives against the OpenCV/numpy way of doing the same work per image:
preprocess_batch (letterbox + BGR + normalise into NCHW float32) and warp_batch (face alignment crops).

Run: PYTHONPATH=python python3 -m pytest bench/bench_faces_primitives.py -s
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from kuzet._native import core
from kuzet.faces import alignment_matrices
from memory import array_peak_mb
from timing import best_of as best_of_n

best_of = partial(best_of_n, repeats=7)  # these primitives take milliseconds: more runs

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    out = []
    with av.open(str(DATA / "faces" / "video" / "short_hamilton_clip.mp4")) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 10 == 0:
                out.append(f.to_ndarray(format="rgb24"))
            if len(out) == 16:
                break
    return out


def opencv_letterbox(frames: list[np.ndarray], out: np.ndarray) -> None:
    for i, img in enumerate(frames):
        h, w = img.shape[:2]
        s = min(640 / w, 640 / h)
        nw, nh = round(w * s), round(h * s)
        canvas = np.zeros((640, 640, 3), np.uint8)
        canvas[:nh, :nw] = cv2.resize(img, (nw, nh))
        out[i] = canvas[:, :, ::-1].transpose(2, 0, 1).astype(np.float32)



def test_preprocess_batch_vs_opencv(benchmark, frames) -> None:  # type: ignore[no-untyped-def]
    buf = np.empty((len(frames), 3, 640, 640), np.float32)
    ref = np.empty_like(buf)
    opencv_letterbox(frames, ref)
    core.preprocess_batch(frames, 640, 640, channel_order="bgr", fit="letterbox_topleft", out=buf)
    assert np.abs(buf - ref).max() <= 1.0
    t_cv = best_of(lambda: opencv_letterbox(frames, ref))
    t_k = best_of(lambda: core.preprocess_batch(frames, 640, 640, channel_order="bgr", fit="letterbox_topleft",
                                                out=buf))
    benchmark.pedantic(core.preprocess_batch, args=(frames, 640, 640), kwargs={"out": buf}, rounds=3)
    mem_cv = array_peak_mb(lambda: opencv_letterbox(frames, ref))
    mem_k = array_peak_mb(lambda: core.preprocess_batch(frames, 640, 640, channel_order="bgr",
                                                        fit="letterbox_topleft", out=buf))
    benchmark.extra_info.update(opencv_s=t_cv, kuzet_s=t_k, ratio=t_cv / t_k, opencv_peak_mb=mem_cv,
                                kuzet_peak_mb=mem_k)
    print(f"\npreprocess {len(frames)} frames 640x360 -> 640x640 NCHW: OpenCV+numpy {t_cv * 1000:.1f} ms, "
          f"kuzet {t_k * 1000:.1f} ms: {t_cv / t_k:.2f}x; peak memory allocated beyond the output: OpenCV+numpy "
          f"{mem_cv:.1f} MB, kuzet {mem_k:.1f} MB")


def test_warp_batch_vs_opencv(benchmark, frames) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    m = 64
    index = rng.integers(0, len(frames), m).astype(np.int32)
    centre = rng.uniform([200, 100], [440, 260], (m, 2))
    landmarks = centre[:, None] + (np.array([[-20, -15], [20, -15], [0, 5], [-15, 25], [15, 25]]) *
                                   rng.uniform(0.8, 1.5, (m, 1, 1)))
    mats = alignment_matrices(landmarks)

    def opencv() -> np.ndarray:
        return np.stack([cv2.warpAffine(frames[i], mats[k][:2], (112, 112), flags=cv2.INTER_LINEAR |
                                        cv2.WARP_INVERSE_MAP) for k, i in enumerate(index)])

    ours = core.warp_batch(frames, index, mats, 112, 112)
    assert np.abs(ours.astype(int) - opencv()).max() <= 1
    t_cv = best_of(opencv)
    t_k = best_of(lambda: core.warp_batch(frames, index, mats, 112, 112))
    benchmark.pedantic(core.warp_batch, args=(frames, index, mats, 112, 112), rounds=3)
    mem_cv = array_peak_mb(opencv)
    mem_k = array_peak_mb(lambda: core.warp_batch(frames, index, mats, 112, 112))
    benchmark.extra_info.update(opencv_s=t_cv, kuzet_s=t_k, ratio=t_cv / t_k, opencv_peak_mb=mem_cv,
                                kuzet_peak_mb=mem_k)
    print(f"\nwarp {m} aligned 112x112 crops: OpenCV loop {t_cv * 1000:.2f} ms, kuzet {t_k * 1000:.2f} ms: "
          f"{t_cv / t_k:.2f}x; peak memory allocated (crops included): OpenCV {mem_cv:.2f} MB, kuzet {mem_k:.2f} MB")
