"""Exception hierarchy. Every error kuzet raises derives from :class:`KuzetError`.

Pure Python on purpose: the native module imports these classes when it loads and raises them from C++, so
the classes exist (and type-check) before and without the native module.
"""

from __future__ import annotations


class KuzetError(RuntimeError):
    """Base class of every kuzet error."""


class InvalidArgument(KuzetError, ValueError):
    """An argument has the wrong type, shape, dtype or value."""



class DecodeError(KuzetError):
    """A video source could not be opened or decoded; the message names the source and the problem."""


class SourceNotFound(DecodeError):
    """The file does not exist or the URL cannot be reached."""


class NotAVideo(DecodeError):
    """The input is not a media file, or has no video stream."""


class UnsupportedCodec(DecodeError):
    """No decoder for the stream's codec (or profile) is available."""


class CorruptStream(DecodeError):
    """The stream is damaged (truncated, corrupt packets or headers)."""


class EncryptedStream(DecodeError):
    """The stream is encrypted (e.g. CENC) and cannot be decoded without its keys."""


class StreamTimeout(DecodeError):
    """A live or network source delivered no data within the read timeout."""


class DeviceUnavailable(DecodeError):
    """The requested decode device (e.g. CUDA/NVDEC) is not available for this stream."""


class ModelError(KuzetError):
    """A model file is missing, corrupt, does not match its checksum, or does not fit its role."""


__all__ = [
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
]
