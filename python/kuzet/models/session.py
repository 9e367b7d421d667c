"""ONNX Runtime sessions for kuzet's models: CUDA EP with IOBinding where available, else the CPU EP."""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from kuzet._native import core
from kuzet.errors import InvalidArgument, KuzetError, ModelError
from kuzet.models.contracts import check_contract, graph_inputs, make_batch_dynamic
from kuzet.models.fusion import fuse_elementwise
from kuzet.models.parallel import cpu_workers
from kuzet.models.registry import ModelSpec, get_spec
from kuzet.models.resolve import file_sha256, resolve_model


def _parse_device(device: str) -> tuple[str, int]:
    if device in ("auto", "cpu"):
        return device, 0
    if device == "cuda" or device.startswith("cuda:"):
        index = device.partition(":")[2]
        if index and not index.isdigit():
            raise InvalidArgument(f"device {device!r}: expected 'cuda' or 'cuda:N'")
        return "cuda", int(index or 0)
    raise InvalidArgument(f"device {device!r}: expected 'auto', 'cpu', 'cuda' or 'cuda:N'")


@dataclass(frozen=True)
class DeviceChoice:
    device: str  # "cpu" or "cuda:N"
    providers: list[Any]
    fallback_reason: str | None


def choose_providers(device: str) -> DeviceChoice:
    kind, index = _parse_device(device)
    have_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if kind == "cuda" and not have_cuda:
        raise ModelError(
            f"device {device!r} asked for, but this onnxruntime has no CUDAExecutionProvider "
            f"(available: {ort.get_available_providers()}); install onnxruntime-gpu or use device='cpu'"
        )
    if kind in ("cuda", "auto") and have_cuda:
        return DeviceChoice(f"cuda:{index}", [("CUDAExecutionProvider", {"device_id": index}),
                                              "CPUExecutionProvider"], None)
    reason = None if kind == "cpu" else "onnxruntime has no CUDAExecutionProvider"
    return DeviceChoice("cpu", ["CPUExecutionProvider"], reason)


class OrtModel:
    """One loaded network. `run` takes and returns numpy arrays; `run_device` binds CUDA buffers in place."""

    def __init__(self, spec: ModelSpec, path: Path, *, device: str = "auto", threads: int | None = None):
        self.spec = spec
        self.path = path
        what = f"model {spec.name!r} ({path})"
        try:
            graph = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError/protobuf errors of several kinds
            raise ModelError(f"{what} is not a readable ONNX file: {exc}") from exc
        check_contract(graph, spec.family, what)
        self.batch_made_dynamic = make_batch_dynamic(graph)
        # Equivalent graph with fewer elementwise passes (models/fusion.py); KUZET_FUSE_GRAPHS=0 runs the file as is.
        self.fused = fuse_elementwise(graph) if os.environ.get("KUZET_FUSE_GRAPHS", "1") != "0" else {}
        choice = choose_providers(device)
        self.device = choice.device
        self.fallback_reason = choice.fallback_reason
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or cpu_workers()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(graph.SerializeToString(), options, providers=choice.providers)
        except Exception as exc:
            raise ModelError(f"{what}: onnxruntime could not load it: {exc}") from exc
        if self.device.startswith("cuda"):
            self._check_cuda_started(device, what)
        self.input_name = graph_inputs(graph)[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _check_cuda_started(self, requested: str, what: str) -> None:
        """onnxruntime-gpu lists its CUDA EP even where it cannot start (cuDNN or cuBLAS missing, no usable GPU):
        the session is then built on the CPU, said only in onnxruntime's log. An explicit 'cuda' is refused;
        'auto' runs on the CPU with the reason (load_model warns). A session that did start on CUDA may not
        switch to the CPU later either (onnxruntime's run-time fallback)."""
        if "CUDAExecutionProvider" in self.session.get_providers():
            self.session.disable_fallback()
            return
        reason = ("onnxruntime's CUDAExecutionProvider did not start (its CUDA libraries, cuDNN and cuBLAS, or a "
                  "usable GPU are missing; onnxruntime's log says which)")
        if _parse_device(requested)[0] == "cuda":
            raise ModelError(f"{what}: device {requested!r} asked for, but {reason}")
        self.device = "cpu"
        self.fallback_reason = reason

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run on a float32 NCHW batch; returns outputs by name."""
        if batch.dtype != np.float32 or batch.ndim != 4:
            raise InvalidArgument(f"{self.spec.name}: expected a float32 NCHW batch, got {batch.dtype} "
                                  f"{batch.shape}")
        try:
            outputs = self.session.run(self.output_names, {self.input_name: batch})
        except Exception as exc:  # onnxruntime's own exception types (Fail, InvalidArgument, ...)
            raise ModelError(f"{self.spec.name}: onnxruntime failed to run it on {batch.shape}: {exc}") from exc
        return dict(zip(self.output_names, outputs, strict=True))

    def run_device(self, batch: Any) -> dict[str, np.ndarray]:
        """Run on a CUDA float32 NCHW batch (any object with __cuda_array_interface__) without copying it
        to the host: the input is bound in place with IOBinding; outputs come back as numpy arrays."""
        if not self.device.startswith("cuda"):
            raise InvalidArgument(f"{self.spec.name}: run_device needs a CUDA session, this one runs on "
                                  f"{self.device}")
        cai = batch.__cuda_array_interface__
        shape = tuple(int(d) for d in cai["shape"])
        if np.dtype(cai["typestr"]) != np.float32 or len(shape) != 4:
            raise InvalidArgument(f"{self.spec.name}: expected a float32 NCHW CUDA batch, got {cai['typestr']} "
                                  f"{shape}")
        if cai.get("strides") is not None and tuple(cai["strides"]) != _c_strides(shape, 4):
            raise InvalidArgument(f"{self.spec.name}: the CUDA batch must be C-contiguous (IOBinding reads it "
                                  f"as such), got strides {tuple(cai['strides'])}")
        device_id = int(self.device.partition(":")[2])
        address = int(cai["data"][0])
        kind, where = core.cuda_memory_place(address)  # pageable or another GPU's memory would fault in onnxruntime
        if kind == "unregistered" or (kind == "device" and where != device_id):
            place = "host memory" if kind == "unregistered" else f"the memory of cuda:{where}"
            raise InvalidArgument(f"{self.spec.name}: the CUDA batch is in {place}, but the model runs on "
                                  f"cuda:{device_id}")
        # Its producer's work must be complete before onnxruntime reads it on its own (non-blocking) stream:
        # v3 names the producer's stream; without one (v2, PyTorch) the writes are on the legacy default stream.
        stream = cai.get("stream") if "stream" in cai else 1
        if stream is not None:
            core.cuda_synchronize_stream(int(stream), device_id)
        return self.run_bound(address, shape, "cuda", device_id)

    def run_bound(self, address: int, shape: tuple[int, ...], device_type: str,
                  device_id: int) -> dict[str, np.ndarray]:
        """Run on the float32 NCHW batch at `address` in the memory of (device_type, device_id), bound in
        place with IOBinding (run_device's binding; the tests run it on host memory with the CPU EP, which
        takes the very same calls); the outputs come back as numpy arrays."""
        # onnxruntime's CUDA EP makes its device current and leaves it so: the scope restores the thread's own
        scope = core.cuda_device_scope(device_id) if device_type == "cuda" else contextlib.nullcontext()
        try:
            with scope:
                binding = self.session.io_binding()
                binding.bind_input(self.input_name, device_type, device_id, np.float32, list(shape), address)
                for name in self.output_names:
                    binding.bind_output(name, "cpu")
                self.session.run_with_iobinding(binding)
                outputs = binding.copy_outputs_to_cpu()
        except KuzetError:
            raise
        except Exception as exc:  # onnxruntime's RuntimeError / own types
            raise ModelError(f"{self.spec.name}: onnxruntime failed to run it on {device_type}:{device_id} "
                             f"{shape}: {exc}") from exc
        return dict(zip(self.output_names, outputs, strict=True))


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, step = [], itemsize
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


_cache: dict[tuple[str, str, str, str, int | None], OrtModel] = {}


def load_model(
    name_or_spec: str | ModelSpec,
    *,
    model_dir: str | os.PathLike[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    threads: int | None = None,
    role: str | None = None,
) -> OrtModel:
    """Load a registered model by name (resolved and sha256-checked), or a caller's file by `path` with the
    registered spec's family. Sessions are cached per (file, device, threads). `role` refuses a model
    registered for another role (e.g. a plate detector passed as a face detector)."""
    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    if role is not None and spec.role != role:
        raise ModelError(f"model {spec.name!r} is a {spec.role}, not a {role}")
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ModelError(f"model file {file} does not exist")
        # The caller's file is known by its content, not its name: two weight files called the same, or one
        # replaced in place, are different models (model ids, the session cache, a watchlist's guard).
        spec = ModelSpec(spec.name, str(path), file_sha256(file), spec.role, spec.family, spec.licence,
                         "caller-supplied", spec.input_size, spec.extra_files)
    else:
        file = resolve_model(spec, model_dir=model_dir)
    kind, index = _parse_device(device)
    key = (str(file.resolve()), spec.sha256 or "", spec.family, f"cuda:{index}" if kind == "cuda" else kind,
           threads)  # cuda == cuda:0
    if key not in _cache:
        model = OrtModel(spec, file, device=device, threads=threads)
        if model.fallback_reason:
            warnings.warn(f"{spec.name}: running on CPU ({model.fallback_reason})", RuntimeWarning,
                          stacklevel=2)
        _cache[key] = model
    return _cache[key]
