"""GPU memory for the CUDA paths of the pipelines, allocated by ONNX Runtime (no CuPy needed).

A :class:`CudaView` is a C-contiguous array in CUDA memory that kuzet's kernels write into and IOBinding binds
in place: it exposes ``__cuda_array_interface__`` (v3) and keeps its allocation alive. A :class:`BufferCache`
hands out views of reusable per-purpose allocations (the model input, the aligned crops), grown on demand, so
a steady stream of batches allocates nothing. Not thread-safe: one cache per thread (see the pipelines).
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from kuzet._native import core
from kuzet.errors import InvalidArgument
from kuzet.models.session import OrtModel


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


def is_cuda_array(obj: object) -> bool:
    return hasattr(obj, "__cuda_array_interface__")


class _FrameOfBatch:
    """Frame i of an (N,H,W,3) CUDA array as an HxWx3 CUDA array (keeps the batch alive)."""

    def __init__(self, batch: Any, i: int) -> None:
        cai = batch.__cuda_array_interface__
        shape = tuple(int(d) for d in cai["shape"][1:])
        strides = cai.get("strides") or (int(np.prod(shape)) * np.dtype(cai["typestr"]).itemsize,
                                         shape[1] * shape[2], shape[2], 1)
        self._batch = batch
        self.shape = shape
        self.__cuda_array_interface__ = {
            "shape": shape, "typestr": cai["typestr"], "strides": tuple(int(s) for s in strides[1:]),
            "data": (int(cai["data"][0]) + i * int(strides[0]), bool(cai["data"][1])),
            "version": 3, "stream": cai.get("stream")}


def cuda_shape(obj: Any, what: str = "images") -> tuple[int, ...]:
    """The shape a CUDA array declares in its __cuda_array_interface__ (it need not have a .shape)."""
    try:
        return tuple(int(d) for d in obj.__cuda_array_interface__["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what}: malformed __cuda_array_interface__ ({exc!r})") from exc


def split_batch(images: Any) -> list[Any]:
    """A CUDA array of frames: (N,H,W,3) -> N HxWx3 CUDA arrays; anything else -> [images] (one frame)."""
    shape = cuda_shape(images)
    return [_FrameOfBatch(images, i) for i in range(shape[0])] if len(shape) == 4 else [images]


def cuda_device_id(device: str) -> int:
    """N of 'cuda:N' (0 for 'cuda')."""
    return int(device.partition(":")[2] or 0)


def kernels_for(model: OrtModel, what: str) -> int | None:
    """The CUDA device id whose kernels do this model's pixel work, or None (CPU pre-processing): None when
    the model runs on the CPU, and (with a warning) when this kuzet build has no CUDA kernels or its CUDA
    runtime cannot see that device (e.g. a driver too old for it, while ONNX Runtime's CUDA EP works)."""
    if not model.device.startswith("cuda"):
        return None
    cuda = core.native_build_info()["cuda"]
    device_id = cuda_device_id(model.device)
    if not cuda["built"]:
        reason = "kuzet was built without CUDA"
    elif len(cuda.get("devices") or []) <= device_id:
        reason = f"kuzet's CUDA runtime sees no device {device_id} ({cuda.get('error') or 'no such device'})"
    else:
        return device_id
    warnings.warn(f"{what}: the model runs on {model.device} but {reason}, so frames are pre-processed on the CPU",
                  RuntimeWarning, stacklevel=4)
    return None


def buffer_cache(local: threading.local, device_id: int) -> BufferCache:
    cache: BufferCache | None = getattr(local, "cache", None)
    if cache is None:
        cache = local.cache = BufferCache(device_id)
    return cache


__all__ = ["CudaView", "BufferCache", "upload", "cuda_device_id", "cuda_shape", "is_cuda_array", "split_batch",
           "kernels_for", "buffer_cache"]
