"""CUDA twins of preprocess_batch / warp_batch: equal to the CPU versions on a GPU; a clear KuzetError (never a
crash) in a CPU-only build or on a machine without a CUDA device. Every configuration asserts something."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kuzet
from faces_helpers import load_rgb
from kuzet._native import core


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[np.ndarray]:
    faces = data_dir / "faces" / "images"
    return [load_rgb(faces / "insightface" / "t1.jpg"), load_rgb(faces / "opencv" / "messi5.jpg")]


def cuda_state() -> str:
    cuda = core.native_build_info()["cuda"]
    if not cuda["built"]:
        return "not built"
    return "device" if cuda["devices"] else "no device"


def test_cuda_preprocess_and_warp(photos: list[np.ndarray]) -> None:
    matrices = np.array([[[0.8, 0.2, 100.3], [-0.2, 0.8, 50.7], [0, 0, 1]],
                         [[0.8, 0.2, -20.3], [-0.2, 0.8, 50.7], [1e-4, 2e-4, 1]]])
    index = np.array([0, 1], np.int32)
    kwargs = {"channel_order": "bgr", "mean": (104.0, 117.0, 123.0), "scale": (0.5, 0.5, 0.5), "pad_value": -3.0}
    state = cuda_state()
    if state == "device":
        cpu_batch, cpu_t = core.preprocess_batch(photos, 320, 480, **kwargs)
        gpu_batch, gpu_t = core.preprocess_batch(photos, 320, 480, device="cuda", **kwargs)
        np.testing.assert_array_equal(cpu_t, gpu_t)
        assert np.abs(cpu_batch - gpu_batch).max() <= 0.5 * 1.0 + 1e-3  # within one level, times scale
        cpu_crops = core.warp_batch(photos, index, matrices, 120, 160, border_value=9)
        gpu_crops = core.warp_batch(photos, index, matrices, 120, 160, border_value=9, device="cuda")
        assert np.abs(cpu_crops.astype(int) - gpu_crops).max() <= 1
    else:
        message = "built without CUDA" if state == "not built" else "CUDA"
        with pytest.raises(kuzet.KuzetError, match=message):
            core.preprocess_batch(photos, 320, 480, device="cuda", **kwargs)
        with pytest.raises(kuzet.KuzetError, match=message):
            core.warp_batch(photos, index, matrices, 120, 160, device="cuda:0")


def test_bad_device_names() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    for device in ("gpu", "cuda:", "cuda:x", "CUDA"):
        with pytest.raises(kuzet.InvalidArgument, match="device"):
            core.preprocess_batch([img], 4, 4, device=device)
