"""Sealing a finished recording: segment it, sign the tree head, write the manifest."""

from __future__ import annotations

import os
from collections.abc import Mapping

from kuzet.evidence.errors import EvidenceError
from kuzet.evidence.keys import PrivateKey
from kuzet.evidence.manifest import Manifest, build_manifest
from kuzet.evidence.records import segment_file, signed_target_duration


def seal(
    video: str | os.PathLike[str],
    *,
    private_key: PrivateKey,
    log_id: str | None = None,
    target_duration_s: float = 2.0,
    metadata: Mapping[str, str] | None = None,
    timestamp_ms: int | None = None,
) -> Manifest:
    """Segments a recording and returns its signed manifest. metadata (device id, GPS...) goes in every
    segment record. Raises EvidenceError if the recording cannot be read completely."""
    target_duration_s = signed_target_duration(target_duration_s)
    seg = segment_file(video, target_duration_s=target_duration_s, metadata=metadata)
    if seg.error is not None:
        raise EvidenceError(f"refusing to seal an incompletely readable recording: {seg.error}")
    return build_manifest(
        seg.records,
        private_key,
        log_id=log_id if log_id is not None else os.path.basename(os.fspath(video)),
        target_duration_s=target_duration_s,
        timestamp_ms=timestamp_ms,
    )
