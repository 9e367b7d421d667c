"""The CUDA twins on NV12 frames (issue #4) equal the CPU NV12 path on a real GPU: host frames uploaded by
preprocess_batch / warp_batch(device="cuda"), and frames already in GPU memory through cuda_preprocess_batch /
cuda_warp_batch. Needs a CUDA build with a device and onnxruntime-gpu (for the uploads); skips otherwise.
Run on the GPU machine by scripts/gpu-check.sh (where it never skips: KUZET_REQUIRE_GPU=1).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import kuzet
from gpu_helpers import REQUIRES_CUDA_AND_ORT_GPU
from kuzet._native import core
from kuzet.models.device_buffers import BufferCache, upload

pytestmark = REQUIRES_CUDA_AND_ORT_GPU

CLIPS = [("faces/video/short_hamilton_clip.mp4", "bt709", False), ("faces/video/intel_asl_again.mkv", "unknown", True)]


def _nv12(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reader = kuzet.VideoReader(path, layout="nv12", device="cpu")
        meta = reader.metadata
        frame = next(iter(reader)).data
    return frame.reshape(meta.height * 3 // 2, meta.width)


@pytest.mark.parametrize(("rel", "space", "full"), CLIPS)
def test_cuda_nv12_equals_cpu(data_dir: Path, rel: str, space: str, full: bool) -> None:
    nv12 = _nv12(data_dir / rel)
    colour = {"pixel_format": "nv12", "color_space": space, "full_range": full}
    kwargs = {"channel_order": "bgr", "mean": (104.0, 117.0, 123.0), "scale": (0.5, 0.5, 0.5), "pad_value": -3.0,
              "fit": "letterbox_topleft"}
    cpu, cpu_t = core.preprocess_batch([nv12], 320, 480, **kwargs, **colour)
    uploaded, up_t = core.preprocess_batch([nv12], 320, 480, device="cuda", **kwargs, **colour)
    np.testing.assert_array_equal(up_t, cpu_t)
    assert np.abs(uploaded - cpu).max() <= 0.5 + 1e-3  # one level times the scale (float taps on the GPU)
    frame = upload(nv12, 0)
    cache = BufferCache(0)
    out = cache.view("input", (1, 3, 320, 480), np.float32)
    transforms = core.cuda_preprocess_batch([frame], out, **kwargs, **colour)
    np.testing.assert_array_equal(transforms, cpu_t)
    assert np.abs(out.numpy() - cpu).max() <= 0.5 + 1e-3

    matrices = np.array([[[0.8, 0.2, 100.3], [-0.2, 0.8, 50.7], [0, 0, 1]],
                         [[0.8, 0.2, -20.3], [-0.2, 0.8, 50.7], [1e-4, 2e-4, 1]]])
    index = np.zeros(2, np.int32)
    cpu_crops = core.warp_batch([nv12], index, matrices, 112, 96, border_value=9, **colour)
    crops = cache.view("crops", (2, 112, 96, 3), np.uint8)
    assert core.cuda_warp_batch([frame], index, matrices, 112, 96, out=crops, border_value=9, **colour) is crops
    assert np.abs(crops.numpy().astype(int) - cpu_crops).max() <= 1
    host_crops = core.warp_batch([nv12], index, matrices, 112, 96, border_value=9, device="cuda", **colour)
    assert np.abs(host_crops.astype(int) - cpu_crops).max() <= 1


def test_cuda_nv12_bad_frames_raise(data_dir: Path) -> None:
    out = BufferCache(0).view("input", (1, 3, 64, 64), np.float32)
    odd = upload(np.zeros((12, 7), np.uint8), 0)
    with pytest.raises(kuzet.InvalidArgument, match="even width and height"):
        core.cuda_preprocess_batch([odd], out, pixel_format="nv12")
    rgb = upload(np.zeros((8, 8, 3), np.uint8), 0)
    with pytest.raises(kuzet.InvalidArgument, match="NV12 frame of shape"):
        core.cuda_preprocess_batch([rgb], out, pixel_format="nv12")
