"""The kinds of frame kuzet's APIs take besides numpy arrays: arrays in CUDA memory, for the GPU paths."""

from __future__ import annotations

from typing import Any, Protocol


class CudaArrayLike(Protocol):
    """An array in GPU memory that describes itself by ``__cuda_array_interface__`` (v3): kuzet's DeviceArray
    (NVDEC frames), CuPy arrays, PyTorch CUDA tensors, Numba device arrays. Read in place, never copied to the
    host, by the face and plate pipelines on CUDA."""

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]: ...
