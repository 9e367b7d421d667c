"""Opt-in float16 copies of models for the CUDA EP (FaceDetector/FaceEmbedder ``fp16=True``; default off).

The copy is made once with ONNX Runtime's own float16 converter (onnxruntime.transformers.float16), inputs and
outputs kept float32 so the pipelines feed it unchanged, and cached beside the downloaded models. It is used
only if it agrees with the float32 model on a fixed probe batch: every output at cosine >= 0.999 per item;
otherwise a RuntimeWarning says so and the float32 model stays. Whether fp16 keeps real face embeddings at
cosine >= 0.999 is checked on the GPU machine (tests/test_gpu_infer_gpu.py), not here.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import onnx

from kuzet.errors import InvalidArgument, ModelError
from kuzet.models.session import OrtModel

MIN_COSINE = 0.999


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kuzet" / "fp16"


def half_precision_file(path: Path, *, folder: Path | None = None) -> Path:
    """The float16 copy of the ONNX file at `path` (float32 inputs/outputs), made once and cached by content."""
    data = path.read_bytes()
    target = (folder or cache_dir()) / f"{path.stem}-{hashlib.sha256(data).hexdigest()[:16]}-fp16.onnx"
    if target.is_file():
        return target
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise ModelError(f"fp16=True needs onnxruntime's float16 converter, not importable here: {exc}") from exc
    graph = onnx.load_from_string(data)
    # Old exports list their weights as graph inputs too; the converter would keep those float32 (inputs).
    weights = {i.name for i in graph.graph.initializer}
    kept = [i for i in graph.graph.input if i.name not in weights]
    del graph.graph.input[:]
    graph.graph.input.extend(kept)
    try:
        half = convert_float_to_float16(graph, keep_io_types=True)
    except Exception as exc:  # the converter raises assorted errors on graphs it cannot handle
        raise ModelError(f"{path}: could not be converted to float16: {exc}") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.partial")  # one per writer
    onnx.save(half, str(partial))
    os.replace(partial, target)  # atomic: concurrent loaders see the whole file or none
    return target


def probe_batch(model: OrtModel) -> np.ndarray:
    """A fixed (2,3,H,W) float32 batch of pixel-range noise at the model's input size (640 or 112 if dynamic)."""
    shape = model.session.get_inputs()[0].shape
    default = 112 if model.spec.family == "arcface" else 640
    h, w = (d if isinstance(d, int) and d > 0 else default for d in shape[2:4])
    return np.random.default_rng(0).uniform(0, 255, (2, 3, h, w)).astype(np.float32)


def outputs_agree(a: dict[str, np.ndarray], b: dict[str, np.ndarray], min_cosine: float = MIN_COSINE) -> bool:
    for name, x in a.items():
        x = x.reshape(len(x), -1).astype(np.float64)
        y = np.asarray(b[name], np.float64).reshape(len(x), -1)
        norms = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
        cos = np.where(norms > 0, (x * y).sum(axis=1) / np.maximum(norms, 1e-300), 1.0)
        if not np.all(np.isfinite(y)) or cos.min() < min_cosine:
            return False
    return True


def half_precision(model: OrtModel) -> OrtModel:
    """The float16 twin of a CUDA model when it agrees with it (see the module docstring), else `model`."""
    if not model.device.startswith("cuda"):
        raise InvalidArgument(f"{model.spec.name}: fp16=True needs the model on CUDA; it runs on {model.device}")
    half = OrtModel(model.spec, half_precision_file(model.path), device=model.device)
    probe = probe_batch(model)
    if not outputs_agree(model.run(probe), half.run(probe)):
        warnings.warn(f"{model.spec.name}: its float16 copy differs from float32 (cosine < {MIN_COSINE}); "
                      "keeping float32", RuntimeWarning, stacklevel=3)
        return model
    return half


__all__ = ["half_precision", "half_precision_file", "outputs_agree", "probe_batch", "MIN_COSINE"]
