"""Property tests of the vision primitives on arbitrary sizes (1-pixel images, extreme aspect ratios, huge
up- and down-scaling, matrices pointing anywhere): never a crash, always OpenCV's result to within one level."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kuzet._native import core

sizes = st.integers(min_value=1, max_value=48)
fits = st.sampled_from(["letterbox_center", "letterbox_topleft", "stretch", "keep_height"])


@settings(max_examples=150, deadline=None)
@given(h=sizes, w=sizes, out_h=sizes, out_w=sizes, fit=fits, seed=st.integers(0, 2**32 - 1))
def test_preprocess_any_size_matches_cv2(h: int, w: int, out_h: int, out_w: int, fit: str, seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    batch, t = core.preprocess_batch([img], out_h, out_w, fit=fit, pad_value=-1.0)
    assert np.all(np.isfinite(batch))
    sx, sy, px, py = (float(v) for v in t[0])
    nw, nh = round(w * sx), round(h * sy)
    assert 1 <= nw <= out_w and 1 <= nh <= out_h and px + nw <= out_w and py + nh <= out_h
    ref = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR).reshape(nh, nw, 3).astype(np.float32)
    region = batch[0][:, int(py):int(py) + nh, int(px):int(px) + nw].transpose(1, 2, 0)
    assert np.abs(region - ref).max() <= 1.0
    assert (batch[0] == -1.0).sum() >= 3 * (out_h * out_w - nw * nh)


finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(h=sizes, w=sizes, out_h=st.integers(1, 24), out_w=st.integers(1, 24),
       m=st.lists(finite, min_size=6, max_size=6), seed=st.integers(0, 2**32 - 1))
def test_warp_any_affine_matches_cv2(h: int, w: int, out_h: int, out_w: int, m: list[float], seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    mat = np.array([m[:3], m[3:], [0, 0, 1]])
    crop = core.warp_batch([img], np.zeros(1, np.int32), mat[None], out_h, out_w, border_value=77)[0]
    ref = cv2.warpAffine(img, mat[:2], (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderValue=(77, 77, 77)).reshape(out_h, out_w, 3)
    assert np.abs(crop.astype(int) - ref).max() <= 1


def test_warp_degenerate_matrices_give_border() -> None:
    img = np.full((10, 10, 3), 200, np.uint8)
    mats = np.array([np.full((3, 3), np.nan), np.zeros((3, 3)), [[1, 0, 0], [0, 1, 0], [0, 0, 0]],
                     [[1e300, 0, 0], [0, 1, 0], [0, 0, 1]]])
    crops = core.warp_batch([img], np.zeros(4, np.int32), mats, 4, 4, border_value=5)
    assert np.all(crops[0] == 5) and np.all(crops[2][1:, 1:] == 5) and np.all(crops[3][:, 1:] == 5)
