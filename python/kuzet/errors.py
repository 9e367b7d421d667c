"""Exception hierarchy. Every error kuzet raises derives from :class:`KuzetError`."""

from __future__ import annotations

from kuzet._native import core

KuzetError = core.KuzetError
InvalidArgument = core.InvalidArgument

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
