"""Exception hierarchy. Every error kuzet raises derives from :class:`KuzetError`.

Pure Python on purpose: the native module imports these classes when it loads and raises them from C++, so
the classes exist (and type-check) before and without the native module.
"""

from __future__ import annotations


class KuzetError(RuntimeError):
    """Base class of every kuzet error."""


class InvalidArgument(KuzetError, ValueError):
    """An argument has the wrong type, shape, dtype or value."""

# Decoding errors (raised by kuzet.VideoReader); all derive from DecodeError, itself a KuzetError.
DecodeError = core.DecodeError
SourceNotFound = core.SourceNotFound
NotAVideo = core.NotAVideo
UnsupportedCodec = core.UnsupportedCodec
CorruptStream = core.CorruptStream
EncryptedStream = core.EncryptedStream
StreamTimeout = core.StreamTimeout
DeviceUnavailable = core.DeviceUnavailable


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
