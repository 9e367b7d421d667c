"""Errors of kuzet.evidence. All derive from :class:`EvidenceError` (a :class:`kuzet.KuzetError`)."""

from __future__ import annotations

from kuzet._native import core

#: The media cannot be opened or demuxed, or an evidence file cannot be read.
EvidenceError = core.EvidenceError
#: A key that cannot be parsed or is not an Ed25519 key.
KeyFormatError = core.KeyFormatError
#: Segmenting stopped because the interrupt hook fired (a signal is re-raised as its own exception instead).
SegmentationInterrupted = core.SegmentationInterrupted


class ManifestError(EvidenceError):  # type: ignore[misc,valid-type]
    """A manifest or exhibit is malformed: not JSON, wrong format or version, missing or mistyped fields."""


__all__ = ["EvidenceError", "KeyFormatError", "ManifestError", "SegmentationInterrupted"]
