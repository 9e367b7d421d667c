"""Input checks shared by the plate detector and pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kuzet.errors import InvalidArgument

Images = Sequence[np.ndarray] | np.ndarray


def as_image_batch(images: Images, what: str) -> list[np.ndarray] | np.ndarray:
    """A list of HxWx3 uint8 arrays, or an (N,H,W,3) uint8 array, checked with messages naming the problem."""
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            raise InvalidArgument(f"{what}: got one image of shape {images.shape}; pass a list of images or "
                                  "an (N,H,W,3) array")
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8:
            raise InvalidArgument(f"{what}: expected an (N,H,W,3) uint8 array, got {images.dtype} {images.shape}")
        return images
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise InvalidArgument(f"{what}: expected a list of HxWx3 uint8 RGB images, got {type(images).__name__}")
    batch = list(images)
    for i, image in enumerate(batch):
        if not isinstance(image, np.ndarray):
            raise InvalidArgument(f"{what}: image {i} is a {type(image).__name__}, not a numpy array")
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InvalidArgument(f"{what}: image {i} must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise InvalidArgument(f"{what}: image {i} is empty ({image.shape})")
    return batch


def pixel_source(pixel_format: str, color_space: str, full_range: bool) -> dict[str, Any]:
    """The keyword arguments that describe frames in `pixel_format`, for the native pre-processing and warps
    and for PlateDetector.detect / PlatePipeline.process ({} for RGB, the default: a caller's own detector
    object that only knows RGB frames keeps working)."""
    if pixel_format == "rgb":
        return {}
    if pixel_format != "nv12":
        raise InvalidArgument(f"pixel_format must be 'rgb' or 'nv12', got {pixel_format!r}")
    return {"pixel_format": "nv12", "color_space": color_space, "full_range": bool(full_range)}


def frame_sizes(batch: Sequence[np.ndarray] | np.ndarray, source: dict[str, Any]) -> np.ndarray:
    """(N, 2) float32 (height, width) of RGB frames, or of NV12 frames ((H*3/2, W) arrays)."""
    if source:
        return np.array([(f.shape[0] * 2 // 3, f.shape[1]) for f in batch], np.float32)
    return np.array([f.shape[:2] for f in batch], np.float32)
