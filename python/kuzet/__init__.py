"""kuzet: video inference core (decode, faces, plates, tamper-evident evidence)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kuzet import cuda  # GPU frames: kuzet.cuda.CudaVideoReader
from kuzet._info import build_info
from kuzet._native import core as _core
from kuzet.array_types import CudaArrayLike
from kuzet.errors import (
    CorruptStream,
    DecodeError,
    DeviceUnavailable,
    EncryptedStream,
    InvalidArgument,
    KuzetError,
    ModelError,
    NotAVideo,
    SourceNotFound,
    StreamTimeout,
    UnsupportedCodec,
)
from kuzet.video import DecodeStats, Frame, FrameBatch, VideoMetadata, VideoReader

if TYPE_CHECKING:
    from kuzet import evidence
    from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
    from kuzet.pipeline import Pipeline
    from kuzet.plates import Hotlist, PlateDetector, PlatePipeline, PlateRead, PlateReader, PlateTrack, PlateTracker
    from kuzet.results import Face

__version__: str = _core.__version__

# The inference parts load ONNX Runtime and onnx (a few hundred ms): they are imported on first use, so a
# program that only decodes or hashes does not pay for them.
_LAZY = {
    "evidence": ("kuzet.evidence", None),
    "Pipeline": ("kuzet.pipeline", "Pipeline"),
    "Face": ("kuzet.results", "Face"),
    **{name: ("kuzet.faces", name) for name in ("FaceDetector", "FaceEmbedder", "FacePipeline", "Watchlist")},
    **{name: ("kuzet.plates", name) for name in ("Hotlist", "PlateDetector", "PlatePipeline", "PlateRead",
                                                  "PlateReader", "PlateTrack", "PlateTracker")},
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'kuzet' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = ["__version__", "build_info", "cuda"]
__all__ += ["KuzetError", "InvalidArgument", "ModelError"]
__all__ += ["DecodeError", "SourceNotFound", "NotAVideo", "UnsupportedCodec", "CorruptStream", "EncryptedStream",
            "StreamTimeout", "DeviceUnavailable"]
__all__ += ["VideoReader", "VideoMetadata", "Frame", "FrameBatch", "DecodeStats", "CudaArrayLike"]
__all__ += ["evidence", "Pipeline", "Face", "FaceDetector", "FaceEmbedder", "FacePipeline", "Watchlist", "Hotlist",
            "PlateDetector", "PlatePipeline", "PlateRead", "PlateReader", "PlateTrack", "PlateTracker"]
