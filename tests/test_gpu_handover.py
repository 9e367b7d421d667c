"""How GPU memory is handed over, checked without a GPU against the real consumers and APIs:

* DLPack: a DeviceArray over host memory (the test hook _host_device_array) goes through the same __dlpack__
  code as a decoded frame in GPU memory; numpy.from_dlpack consumes it for real (capsule name, DLTensor layout,
  ownership passed to the consumer, the capsule renamed "used_dltensor" and never freed twice).
* __cuda_array_interface__ v3: the dict a DeviceArray gives, and the checks of what kuzet's CUDA entry points
  take (mask refused, stream 0 refused).
* IOBinding: OrtModel.run_bound makes the same ONNX Runtime calls for host memory and the CPU EP as run_device
  makes for CUDA memory, so the argument order and types are checked by the real onnxruntime here; run_device's
  own checks (dtype, C-contiguity, the producer's stream) with a stand-in for the binding.
"""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kuzet
from kuzet._native import core
from kuzet.faces import FaceEmbedder
from kuzet.models import session

_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.restype = ctypes.c_int
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]


class Producer:
    """Hands out one given capsule, as a producer's __dlpack__ would (to watch what the consumer does to it)."""

    def __init__(self, capsule: Any, device: tuple[int, int]) -> None:
        self.capsule, self.device = capsule, device

    def __dlpack__(self, **_: Any) -> Any:
        return self.capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self.device


@pytest.fixture
def frame() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, (6, 10, 3), dtype=np.uint8)


def test_numpy_takes_a_device_array_without_a_copy(frame: np.ndarray) -> None:
    before = core._host_device_buffers_alive()
    arr = core._host_device_array(frame)
    assert repr(arr) == "DeviceArray(shape=(6, 10, 3), dtype=uint8, device='cpu')"
    assert arr.__dlpack_device__() == (1, 0)
    assert arr.shape == (6, 10, 3) and arr.strides == (30, 3, 1) and arr.nbytes == 180 and arr.ndim == 3
    view = np.from_dlpack(arr)
    assert view.shape == (6, 10, 3) and view.strides == (30, 3, 1) and view.dtype == np.uint8
    assert view.ctypes.data == arr.ptr  # the same memory
    np.testing.assert_array_equal(view, frame)
    np.testing.assert_array_equal(arr.numpy(), frame)
    del arr
    gc.collect()
    assert core._host_device_buffers_alive() == before + 1  # the consumer's array keeps the buffer
    np.testing.assert_array_equal(view, frame)
    del view
    gc.collect()
    assert core._host_device_buffers_alive() == before  # and releases it with its last reference


def test_consumed_capsule_is_renamed_and_not_freed_twice(frame: np.ndarray) -> None:
    before = core._host_device_buffers_alive()
    arr = core._host_device_array(frame)
    capsule = arr.__dlpack__()
    assert _capsule_is_valid(capsule, b"dltensor")
    del arr
    view = np.from_dlpack(Producer(capsule, (1, 0)))
    assert _capsule_is_valid(capsule, b"used_dltensor") and not _capsule_is_valid(capsule, b"dltensor")
    del capsule  # its destructor must leave the tensor to the consumer now
    gc.collect()
    assert core._host_device_buffers_alive() == before + 1
    np.testing.assert_array_equal(view, frame)  # still readable: not freed by the capsule
    del view
    gc.collect()
    assert core._host_device_buffers_alive() == before


def test_unconsumed_capsules_free_their_reference(frame: np.ndarray) -> None:
    before = core._host_device_buffers_alive()
    arr = core._host_device_array(frame)
    for _ in range(50):
        capsule = arr.__dlpack__(stream=None, max_version=(1, 0))
        del capsule
    gc.collect()
    assert core._host_device_buffers_alive() == before + 1
    del arr
    gc.collect()
    assert core._host_device_buffers_alive() == before


def test_dlpack_arguments_follow_the_standard(frame: np.ndarray) -> None:
    arr = core._host_device_array(frame)
    with pytest.raises(TypeError):
        arr.__dlpack__(None)  # keyword-only, as the array API standard has it
    with pytest.raises(BufferError, match="not on DLPack device"):
        arr.__dlpack__(dl_device=(2, 0))
    with pytest.raises(BufferError, match="copy"):
        arr.__dlpack__(copy=True)
    assert _capsule_is_valid(arr.__dlpack__(dl_device=(1, 0), copy=False), b"dltensor")
    empty = core._host_device_array(np.zeros((0, 4), np.uint8))
    assert np.from_dlpack(empty).shape == (0, 4)


def test_cuda_array_interface_v3_of_a_device_array(frame: np.ndarray) -> None:
    arr = core._host_device_array(frame)
    assert not hasattr(arr, "__cuda_array_interface__")  # host memory is never offered as CUDA memory
    cai = core._cuda_array_interface_dict(arr)
    assert cai == {"shape": (6, 10, 3), "typestr": "|u1", "descr": (("", "|u1"),), "data": (arr.ptr, False),
                   "strides": None, "version": 3, "stream": None}


def test_device_array_reshape_is_a_view_as_in_numpy() -> None:
    """A flat NV12 frame viewed as (H*3/2, W), as on the CPU: same memory, kept alive by the view."""
    flat = np.arange(6 * 4 * 3 // 2, dtype=np.uint8)  # a 6x4 NV12 frame, flat as VideoReader(layout="nv12") gives it
    before = core._host_device_buffers_alive()
    arr = core._host_device_array(flat)
    view = arr.reshape(9, 4)  # (H*3/2, W)
    assert view.shape == (9, 4) and view.strides == (4, 1) and view.ptr == arr.ptr
    assert arr.reshape((3, -1)).shape == (3, 12) and arr.reshape(np.int64(-1)).shape == (36,)
    del arr
    gc.collect()
    assert core._host_device_buffers_alive() == before + 1  # the view keeps the memory
    np.testing.assert_array_equal(view.numpy(), flat.reshape(9, 4))
    for bad, message in (((5, 4), "cannot reshape 36 elements into \\(5, 4\\)"), ((-1, -1), "one may be -1"),
                         ((-2, 12), ">= 0"), ((0, -1), "cannot reshape"), ((2.5, 2), "integers"),
                         ((2**62, 2**62), "fit in memory")):
        with pytest.raises(kuzet.InvalidArgument, match=message):
            view.reshape(*bad)
    del view
    gc.collect()
    assert core._host_device_buffers_alive() == before


class FakeCuda:
    def __init__(self, shape: tuple[int, ...], typestr: str = "|u1", **extra: Any) -> None:
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (0x10000, False),
                                         "strides": None, "version": 3, **extra}


@pytest.mark.parametrize(("image", "out", "message"), [
    (FakeCuda((4, 4, 3), mask=FakeCuda((4, 4, 3))), FakeCuda((1, 3, 8, 8), "<f4"), r"images\[0\]: masked"),
    (FakeCuda((4, 4, 3), stream=0), FakeCuda((1, 3, 8, 8), "<f4"), r"images\[0\]: .*stream 0"),
    (FakeCuda((4, 4, 3)), FakeCuda((1, 3, 8, 8), "<f4", stream=0), r"out: .*stream 0"),
    (FakeCuda((4, 4, 3), stream=-3), FakeCuda((1, 3, 8, 8), "<f4"), r"images\[0\]: malformed"),
])
def test_cuda_array_interface_checks(image: Any, out: Any, message: str) -> None:
    with pytest.raises(kuzet.InvalidArgument, match=message):
        core.cuda_preprocess_batch([image], out)


@pytest.fixture(scope="module")
def model(model_dir: Path) -> Any:
    return FaceEmbedder(model_dir=model_dir, device="cpu").model


def probe() -> np.ndarray:
    return np.random.default_rng(2).uniform(-1, 1, (2, 3, 112, 112)).astype(np.float32)


def test_iobinding_calls_agree_with_a_plain_run(model: Any) -> None:
    batch = probe()
    expected = model.run(batch)
    bound = model.run_bound(batch.ctypes.data, batch.shape, "cpu", 0)
    assert list(bound) == model.output_names
    for name in expected:
        np.testing.assert_allclose(bound[name], expected[name], rtol=1e-5, atol=1e-5)


class HostBatch:
    def __init__(self, array: np.ndarray, **extra: Any) -> None:
        self.array = array
        self.__cuda_array_interface__ = {"shape": array.shape, "typestr": array.dtype.str,
                                         "data": (array.ctypes.data, False), "strides": None, "version": 3,
                                         "stream": None, **extra}


def test_run_device_binds_the_cuda_batch_in_place(model: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    batch = probe()
    expected = model.run(batch)
    calls: list[tuple[Any, ...]] = []
    synced: list[int] = []
    real_run_bound = type(model).run_bound

    def on_host(self: Any, address: int, shape: tuple[int, ...], device_type: str, device_id: int) -> Any:
        calls.append((address, shape, device_type, device_id))
        return real_run_bound(self, address, shape, "cpu", 0)

    monkeypatch.setattr(type(model), "run_bound", on_host)
    monkeypatch.setattr(model, "device", "cuda:1")
    places = {batch.ctypes.data: ("device", 1)}  # where each address is, as CUDA would say
    monkeypatch.setattr(session, "core", type("Core", (), {
        "cuda_synchronize_stream": staticmethod(lambda stream, device: synced.append((stream, device))),
        "cuda_memory_place": staticmethod(lambda address: places.get(address, ("unregistered", -1)))}))
    out = model.run_device(HostBatch(batch))
    assert calls == [(batch.ctypes.data, (2, 3, 112, 112), "cuda", 1)] and synced == []
    np.testing.assert_allclose(out[model.output_names[0]], expected[model.output_names[0]],
                               rtol=1e-5, atol=1e-5)
    model.run_device(HostBatch(batch, stream=1))  # v3: the producer's stream is waited for, on the data's device
    assert synced == [(1, 1)]
    with pytest.raises(kuzet.InvalidArgument, match="C-contiguous"):
        model.run_device(HostBatch(batch, strides=(4, 8 * 112 * 112, 4 * 112, 4)))
    # memory onnxruntime on cuda:1 cannot read is refused before it faults there
    places[batch.ctypes.data] = ("device", 0)
    with pytest.raises(kuzet.InvalidArgument, match="in the memory of cuda:0, but the model runs on cuda:1"):
        model.run_device(HostBatch(batch))
    places[batch.ctypes.data] = ("unregistered", -1)
    with pytest.raises(kuzet.InvalidArgument, match="in host memory"):
        model.run_device(HostBatch(batch))
    places[batch.ctypes.data] = ("managed", 0)
    model.run_device(HostBatch(batch, stream=1))
    # a v2 interface (PyTorch's) names no stream: its writes are on the legacy default stream, waited for
    legacy = HostBatch(batch)
    del legacy.__cuda_array_interface__["stream"]
    model.run_device(legacy)
    assert synced == [(1, 1), (1, 1), (1, 1)]
    with pytest.raises(kuzet.InvalidArgument, match="float32 NCHW"):
        model.run_device(HostBatch(batch.astype(np.float16)))


def test_stream_synchronisation_needs_cuda() -> None:
    with pytest.raises(kuzet.InvalidArgument, match="stream 0"):
        core.cuda_synchronize_stream(0)
    with pytest.raises(kuzet.InvalidArgument, match="device must be >= 0"):
        core.cuda_synchronize_stream(1, -1)
    cuda = core.native_build_info()["cuda"]
    if cuda["built"] and cuda["devices"]:
        core.cuda_synchronize_stream(1)  # the legacy default stream
        core.cuda_synchronize_stream(2, 0)  # the per-thread default stream
    else:
        with pytest.raises(kuzet.KuzetError, match="built without CUDA" if not cuda["built"] else "CUDA"):
            core.cuda_synchronize_stream(1)


def test_device_scope_needs_a_device() -> None:
    with pytest.raises(kuzet.InvalidArgument, match="device must be >= 0"):
        core.cuda_device_scope(-1)
    cuda = core.native_build_info()["cuda"]
    if cuda["built"] and cuda["devices"]:
        with core.cuda_device_scope(0):  # entered and left on this thread
            pass
    else:
        with pytest.raises(kuzet.KuzetError, match="built without CUDA" if not cuda["built"] else "CUDA"):
            with core.cuda_device_scope(0):
                pass
