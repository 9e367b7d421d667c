"""Input checks shared by the plate detector and pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kuzet.errors import InvalidArgument
from kuzet.faces.images import frame_size

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


def frame_sizes(batch: Sequence[Any] | np.ndarray, source: dict[str, Any]) -> np.ndarray:
    """(N, 2) float32 (height, width) of RGB frames, or of NV12 frames ((H*3/2, W) arrays), host or GPU."""
    return np.array([frame_size(f, bool(source)) for f in batch], np.float32).reshape(-1, 2)
