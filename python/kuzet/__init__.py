"""kuzet: video inference core (decode, faces, plates, tamper-evident evidence)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kuzet._info import build_info
from kuzet._native import core as _core
from kuzet.errors import InvalidArgument, KuzetError, ModelError

if TYPE_CHECKING:
    from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
    from kuzet.results import Face

__version__: str = _core.__version__

# Pipelines load lazily: importing them pulls in onnx and onnxruntime (~0.5 s), which `import kuzet` for
# decoding or hashing alone should not pay.
_LAZY = {
    "Face": "kuzet.results",
    "FaceDetector": "kuzet.faces",
    "FaceEmbedder": "kuzet.faces",
    "FacePipeline": "kuzet.faces",
    "Watchlist": "kuzet.faces",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kuzet' has no attribute {name!r}")

__all__ = [
    "__version__", "build_info", "KuzetError", "InvalidArgument", "ModelError",
    "Face", "FaceDetector", "FaceEmbedder", "FacePipeline", "Watchlist",
]
