"""kuzet: video inference core (decode, faces, plates, tamper-evident evidence)."""

from __future__ import annotations

from kuzet import cuda  # GPU frames: kuzet.cuda.CudaVideoReader
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
from kuzet.video import DecodeStats, Frame, FrameBatch, VideoMetadata, VideoReader

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "build_info",
    "KuzetError",
    "InvalidArgument",
    "ModelError",
    "DecodeError",
    "SourceNotFound",
    "NotAVideo",
    "UnsupportedCodec",
    "CorruptStream",
    "EncryptedStream",
    "StreamTimeout",
    "DeviceUnavailable",
    "VideoReader",
    "VideoMetadata",
    "Frame",
    "FrameBatch",
    "DecodeStats",
    "cuda",
]
