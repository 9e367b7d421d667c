"""The kinds of frame kuzet's APIs take besides numpy arrays: arrays in CUDA memory, for the GPU paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np


class CudaArrayLike(Protocol):
    """An array in GPU memory that describes itself by ``__cuda_array_interface__`` (v3): kuzet's DeviceArray
    (NVDEC frames), CuPy arrays, PyTorch CUDA tensors, Numba device arrays. Read in place, never copied to the
    host, by the face and plate pipelines on CUDA."""

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]: ...


# What the face and plate detectors and pipelines take: host RGB frames (one HxWx3 array, an (N,H,W,3) batch, or
# a list) and, on CUDA, the same in GPU memory. Each API checks what it really got and names the problem.
Frames = np.ndarray | Sequence[np.ndarray] | CudaArrayLike | Sequence[np.ndarray | CudaArrayLike]
