"""kuzet: video inference core (decode, faces, plates, tamper-evident evidence)."""

from __future__ import annotations

from kuzet import evidence
from kuzet._info import build_info
from kuzet._native import core as _core
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
from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
from kuzet.pipeline import Pipeline
from kuzet.plates import Hotlist, PlateDetector, PlatePipeline, PlateRead, PlateReader, PlateTrack, PlateTracker
from kuzet.results import Face
from kuzet.video import DecodeStats, Frame, FrameBatch, VideoMetadata, VideoReader

__version__: str = _core.__version__

__all__ = ["__version__", "build_info"]
__all__ += ["KuzetError", "InvalidArgument", "ModelError"]
__all__ += ["DecodeError", "SourceNotFound", "NotAVideo", "UnsupportedCodec", "CorruptStream", "EncryptedStream",
            "StreamTimeout", "DeviceUnavailable"]
__all__ += ["VideoReader", "VideoMetadata", "Frame", "FrameBatch", "DecodeStats"]
__all__ += ["Hotlist", "PlateDetector", "PlatePipeline", "PlateRead", "PlateReader", "PlateTrack", "PlateTracker"]
__all__ += ["Face", "FaceDetector", "FaceEmbedder", "FacePipeline", "Watchlist"]
__all__ += ["evidence", "Pipeline"]
