"""kuzet: video inference core (decode, faces, plates, tamper-evident evidence)."""

from __future__ import annotations

from kuzet._info import build_info
from kuzet._native import core as _core
from kuzet.errors import InvalidArgument, KuzetError, ModelError
from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
from kuzet.results import Face

__version__: str = _core.__version__

__all__ = [
    "__version__", "build_info", "KuzetError", "InvalidArgument", "ModelError",
    "Face", "FaceDetector", "FaceEmbedder", "FacePipeline", "Watchlist",
]
