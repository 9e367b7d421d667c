"""GPU memory for the CUDA paths of the pipelines, allocated by ONNX Runtime (no CuPy needed).

A :class:`CudaView` is a C-contiguous array in CUDA memory that kuzet's kernels write into and IOBinding binds
in place: it exposes ``__cuda_array_interface__`` (v3) and keeps its allocation alive. A :class:`BufferCache`
hands out views of reusable per-purpose allocations (the model input, the aligned crops), grown on demand, so
a steady stream of batches allocates nothing. Not thread-safe: one cache per thread (see the pipelines).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from kuzet._native import core
from kuzet.errors import InvalidArgument, KuzetError
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


def _on_gpu(make: Any, nbytes: int, device_id: int) -> Any:
    """make() (an onnxruntime allocation on cuda:device_id), with the thread's current device left as it was
    (onnxruntime's allocator switches it) and onnxruntime's errors as a KuzetError."""
    try:
        with core.cuda_device_scope(device_id):
            return make()
    except KuzetError:
        raise
    except Exception as exc:  # onnxruntime's RuntimeError: out of memory, no such device
        raise KuzetError(f"cannot allocate {nbytes} bytes on cuda:{device_id}: {exc}") from exc


def upload(array: np.ndarray, device_id: int) -> CudaView:
    """A GPU copy of a host array (one host-to-device copy, complete on return)."""
    host = np.ascontiguousarray(array)
    value = _on_gpu(lambda: ort.OrtValue.ortvalue_from_numpy(host, "cuda", device_id), host.nbytes, device_id)
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
            value = _on_gpu(lambda: ort.OrtValue.ortvalue_from_shape_and_type([nbytes], np.uint8, "cuda",
                                                                             self.device_id), nbytes, self.device_id)
            self._buffers[name] = value
        return CudaView(value, int(value.data_ptr()), tuple(int(d) for d in shape), dt, self.device_id)


def is_cuda_array(obj: object) -> bool:
    return hasattr(obj, "__cuda_array_interface__")


class _FrameOfBatch:
    """Frame i of a CUDA array of frames ((N,H,W,3) RGB or (N,H*3/2,W) NV12) as a CUDA array of the frame's own
    shape (keeps the batch alive)."""

    def __init__(self, batch: Any, i: int) -> None:
        cai = batch.__cuda_array_interface__
        full = tuple(int(d) for d in cai["shape"])
        itemsize = np.dtype(cai["typestr"]).itemsize
        strides = cai.get("strides") or tuple(int(np.prod(full[k + 1:], dtype=np.int64)) * itemsize
                                              for k in range(len(full)))
        self._batch = batch
        self.shape = full[1:]
        self.__cuda_array_interface__ = {
            "shape": self.shape, "typestr": cai["typestr"], "strides": tuple(int(s) for s in strides[1:]),
            "data": (int(cai["data"][0]) + i * int(strides[0]), bool(cai["data"][1])),
            "version": 3, "stream": cai.get("stream")}


def cuda_shape(obj: Any, what: str = "images") -> tuple[int, ...]:
    """The shape a CUDA array declares in its __cuda_array_interface__ (it need not have a .shape)."""
    try:
        return tuple(int(d) for d in obj.__cuda_array_interface__["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what}: malformed __cuda_array_interface__ ({exc!r})") from exc


def split_batch(images: Any, frame_ndim: int = 3) -> list[Any]:
    """A CUDA array of frames -> its frames: (N,H,W,3) -> N HxWx3 CUDA arrays (frame_ndim 3), (N,H*3/2,W) -> N
    NV12 frames (frame_ndim 2); anything else -> [images] (one frame)."""
    shape = cuda_shape(images)
    return [_FrameOfBatch(images, i) for i in range(shape[0])] if len(shape) == frame_ndim + 1 else [images]


def nv12_frames_on_device(images: Any, device_id: int) -> list[Any]:
    """Each NV12 frame ((H*3/2, W) uint8) as a CUDA array: CUDA arrays as they are (one frame, or an
    (N,H*3/2,W) batch; the kernels check them), host frames checked like the CPU path's and uploaded (half
    the bytes of an RGB frame)."""
    from kuzet.faces.images import as_nv12_frame, as_nv12_list  # kuzet.faces imports this module

    if is_cuda_array(images):
        return split_batch(images, frame_ndim=2)
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
        return [img if is_cuda_array(img) else upload(as_nv12_frame(img, f"images[{i}]"), device_id)
                for i, img in enumerate(images)]
    return [upload(f, device_id) for f in as_nv12_list(images)]  # an array, or refused with the reason


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
           "nv12_frames_on_device", "kernels_for", "buffer_cache"]
