"""Checks and normalises the `images` argument of the face APIs: decoded RGB uint8 HxWx3 frames.

Accepted: one HxWx3 array, a sequence of them (sizes may differ), or an (N,H,W,3) array. Grey (HxW) and RGBA
(HxWx4) images are converted to RGB (alpha dropped), as decoders and image loaders often yield them.
Anything else (another dtype, an empty image, not an array) raises kuzet.InvalidArgument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kuzet.array_types import CudaArrayLike, Frames
from kuzet.errors import InvalidArgument
from kuzet.models.device_buffers import cuda_shape, is_cuda_array

Images = np.ndarray | Sequence[np.ndarray]


def _as_rgb(img: object, name: str) -> np.ndarray:
    if not isinstance(img, np.ndarray):
        raise InvalidArgument(f"{name}: expected a numpy array (RGB uint8 HxWx3), got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise InvalidArgument(f"{name}: expected dtype uint8 (RGB 0..255), got {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if img.ndim != 3 or img.shape[2] != 3:
        raise InvalidArgument(f"{name}: expected an HxWx3 RGB image, got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise InvalidArgument(f"{name}: empty image, shape {img.shape}")
    # Rows may be strided (a crop), but not run backwards (np.flipud) or repeat (a broadcast row): copied then.
    if img.strides[2] != 1 or img.strides[1] != 3 or img.strides[0] < 3 * img.shape[1]:
        img = np.ascontiguousarray(img) if img.strides[0] > 0 else img.copy()
    return img


def as_image_list(images: Frames) -> list[np.ndarray]:
    """The images as a list of HxWx3 uint8 arrays (no copy unless a conversion is needed)."""
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return [_as_rgb(img, f"images[{i}]") for i, img in enumerate(images)]
        return [_as_rgb(images, "image")]
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise InvalidArgument(
            f"images: expected an RGB uint8 array or a sequence of them, got {type(images).__name__}"
        )
    return [_as_rgb(img, f"images[{i}]") for i, img in enumerate(images)]


def as_nv12_frame(img: object, name: str) -> np.ndarray:
    if not isinstance(img, np.ndarray):
        raise InvalidArgument(f"{name}: expected a numpy array (NV12 uint8 (H*3/2, W)), got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise InvalidArgument(f"{name}: expected dtype uint8 (NV12), got {img.dtype}")
    if img.ndim != 2:
        hint = " (a VideoReader layout='nv12' frame is flat: reshape it to (height * 3 // 2, width))"
        raise InvalidArgument(f"{name}: expected an NV12 frame of shape (H*3/2, W), got shape {img.shape}"
                              + (hint if img.ndim == 1 else ""))
    return img  # the native side checks the sizes (even, non-empty) and names the frame


def as_nv12_list(images: Frames) -> list[np.ndarray]:
    """NV12 frames ((H*3/2, W) uint8: luma rows, then the interleaved U/V rows) as a list, no copy."""
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            return [as_nv12_frame(img, f"images[{i}]") for i, img in enumerate(images)]
        return [as_nv12_frame(images, "image")]
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise InvalidArgument(f"images: expected NV12 uint8 arrays, got {type(images).__name__}")
    return [as_nv12_frame(img, f"images[{i}]") for i, img in enumerate(images)]


def pixel_source(pixel_format: str, color_space: str, full_range: bool) -> dict[str, Any]:
    """The keyword arguments that describe frames in `pixel_format` for the native pre-processing and warps
    (CPU and CUDA) and for the detectors' and pipelines' internal calls: {} for RGB, the default (a caller's own
    plate detector that only knows RGB frames keeps working), else the NV12 frames' colour conversion."""
    if pixel_format == "rgb":
        return {}
    if pixel_format != "nv12":
        raise InvalidArgument(f"pixel_format must be 'rgb' or 'nv12', got {pixel_format!r}")
    return {"pixel_format": "nv12", "color_space": color_space, "full_range": bool(full_range)}


def frame_size(frame: np.ndarray | CudaArrayLike, nv12: bool) -> tuple[int, int]:
    """(height, width) of an RGB (H,W,3) or NV12 (H*3/2,W) frame, in host or GPU memory."""
    shape = cuda_shape(frame) if is_cuda_array(frame) else frame.shape  # type: ignore[union-attr]
    return (shape[0] * 2 // 3, shape[1]) if nv12 else (shape[0], shape[1])


__all__ = ["Images", "as_image_list", "as_nv12_frame", "as_nv12_list", "frame_size", "pixel_source"]
