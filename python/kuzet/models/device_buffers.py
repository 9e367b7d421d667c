"""GPU memory for the CUDA paths of the pipelines, allocated by ONNX Runtime (no CuPy needed).

A :class:`CudaView` is a C-contiguous array in CUDA memory that kuzet's kernels write into and IOBinding binds
in place: it exposes ``__cuda_array_interface__`` (v3) and keeps its allocation alive. A :class:`BufferCache`
hands out views of reusable per-purpose allocations (the model input, the aligned crops), grown on demand, so
a steady stream of batches allocates nothing. Not thread-safe: one cache per thread (see the pipelines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from kuzet.errors import InvalidArgument


@dataclass(frozen=True)
class CudaView:
    """A (shape, dtype) C-contiguous view at device address `ptr` of `owner` (an OrtValue on CUDA)."""

    owner: Any
    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    device_id: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        # Written by synchronous kernel calls or copies: complete whenever a consumer sees it (no stream).
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, False), "strides": None,
                "version": 3, "stream": None}

    def numpy(self) -> np.ndarray:
        """A host copy (for tests and small results)."""
        flat: np.ndarray = self.owner.numpy().reshape(-1).view(np.uint8)
        start = self.ptr - int(self.owner.data_ptr())
        return flat[start:start + self.nbytes].view(self.dtype).reshape(self.shape).copy()


def upload(array: np.ndarray, device_id: int) -> CudaView:
    """A GPU copy of a host array (one host-to-device copy, complete on return)."""
    host = np.ascontiguousarray(array)
    value = ort.OrtValue.ortvalue_from_numpy(host, "cuda", device_id)
    return CudaView(value, int(value.data_ptr()), tuple(host.shape), host.dtype, device_id)


class BufferCache:
    """Reusable GPU allocations by purpose: view(name, shape, dtype) returns a view of the `name` buffer,
    reallocated (larger) only when it is too small. A view stays valid until the next view of that name."""

    def __init__(self, device_id: int) -> None:
        self.device_id = device_id
        self._buffers: dict[str, Any] = {}

    def view(self, name: str, shape: tuple[int, ...], dtype: Any) -> CudaView:
        dt = np.dtype(dtype)
        if any(int(d) <= 0 for d in shape):
            raise InvalidArgument(f"GPU buffer {name!r}: shape {shape} has an empty dimension")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        value = self._buffers.get(name)
        if value is None or int(np.prod(value.shape())) < nbytes:
            value = ort.OrtValue.ortvalue_from_shape_and_type([nbytes], np.uint8, "cuda", self.device_id)
            self._buffers[name] = value
        return CudaView(value, int(value.data_ptr()), tuple(int(d) for d in shape), dt, self.device_id)


def cuda_device_id(device: str) -> int:
    """N of 'cuda:N' (0 for 'cuda')."""
    return int(device.partition(":")[2] or 0)


__all__ = ["CudaView", "BufferCache", "upload", "cuda_device_id"]
