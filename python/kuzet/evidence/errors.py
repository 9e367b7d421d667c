"""Errors of kuzet.evidence. All derive from :class:`EvidenceError` (a :class:`kuzet.KuzetError`)."""

from __future__ import annotations

from kuzet.errors import KuzetError

# Pure Python, like kuzet.errors: the native module raises these classes from C++ (bind_hash.cpp).


class EvidenceError(KuzetError):
    """The media cannot be opened or demuxed, or an evidence file cannot be read."""


class KeyFormatError(EvidenceError):
    """A key that cannot be parsed or is not an Ed25519 key."""


class SegmentationInterrupted(EvidenceError):
    """Segmenting stopped because the interrupt hook fired (a signal is re-raised as its own exception)."""


class ManifestError(EvidenceError):
    """A manifest or exhibit is malformed: not JSON, wrong format or version, missing or mistyped fields."""


__all__ = ["EvidenceError", "KeyFormatError", "ManifestError", "SegmentationInterrupted"]
