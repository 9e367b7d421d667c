"""Segment records (what each Merkle leaf commits to) and segmenting media into them."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kuzet._native import core
from kuzet.errors import InvalidArgument
from kuzet.evidence._json import require_hex, require_int, require_object
from kuzet.evidence.errors import ManifestError

_RECORD_KEYS = {
    "index",
    "start_pts",
    "end_pts",
    "time_base",
    "packet_count",
    "byte_length",
    "payload_sha256",
    "timing_sha256",
    "stream_params_sha256",
    "metadata",
    "leaf_hash",
}


@dataclass(frozen=True)
class SegmentRecord:
    """One GOP-aligned segment. Timestamps are in the video stream's time base; None = no timestamp."""

    index: int
    start_pts: int | None
    end_pts: int | None
    time_base: tuple[int, int]
    packet_count: int
    byte_length: int
    payload_digest: bytes  # per stream, in order: each packet's flags, size and bytes
    timing_digest: bytes  # per stream, in order: each packet's pts and dts as stored
    stream_params_digest: bytes  # SHA-256 over all streams' codec, time base and extradata
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for k, v in self.metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise InvalidArgument(f"segment metadata must map str to str, got {k!r}: {v!r}")
            try:
                k.encode("utf-8")
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgument(f"segment metadata {k!r} is not encodable as UTF-8") from None

    def encode(self) -> bytes:
        """Canonical kuzet.segment.v1 bytes (docs/evidence-format.md)."""
        return bytes(core.encode_segment_record(self._native()))

    def leaf_hash(self) -> bytes:
        """RFC 6962 leaf hash of the canonical record: SHA256(0x00 || encode())."""
        return bytes(core.leaf_hash(self.encode()))

    def with_metadata(self, metadata: Mapping[str, str]) -> SegmentRecord:
        return replace(self, metadata=dict(metadata))

    def same_media(self, other: SegmentRecord) -> bool:
        """True when both describe the same packets at the same times (metadata and index aside)."""
        return (
            self.payload_digest == other.payload_digest
            and self.timing_digest == other.timing_digest
            and self.stream_params_digest == other.stream_params_digest
            and (self.start_pts, self.end_pts, self.time_base)
            == (other.start_pts, other.end_pts, other.time_base)
            and (self.packet_count, self.byte_length) == (other.packet_count, other.byte_length)
        )

    def _native(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_pts": self.start_pts,
            "end_pts": self.end_pts,
            "time_base": self.time_base,
            "packet_count": self.packet_count,
            "byte_length": self.byte_length,
            "payload_digest": self.payload_digest,
            "timing_digest": self.timing_digest,
            "stream_params_digest": self.stream_params_digest,
            "metadata": dict(self.metadata),
        }

    @classmethod
    def _from_native(cls, d: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> SegmentRecord:
        return cls(
            index=int(d["index"]),
            start_pts=d["start_pts"],
            end_pts=d["end_pts"],
            time_base=(int(d["time_base"][0]), int(d["time_base"][1])),
            packet_count=int(d["packet_count"]),
            byte_length=int(d["byte_length"]),
            payload_digest=bytes(d["payload_digest"]),
            timing_digest=bytes(d["timing_digest"]),
            stream_params_digest=bytes(d["stream_params_digest"]),
            metadata=dict(metadata or {}),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_pts": self.start_pts,
            "end_pts": self.end_pts,
            "time_base": list(self.time_base),
            "packet_count": self.packet_count,
            "byte_length": self.byte_length,
            "payload_sha256": self.payload_digest.hex(),
            "timing_sha256": self.timing_digest.hex(),
            "stream_params_sha256": self.stream_params_digest.hex(),
            "metadata": dict(sorted(self.metadata.items())),
            "leaf_hash": self.leaf_hash().hex(),
        }

    @classmethod
    def from_json(cls, value: Any, where: str = "segment") -> tuple[SegmentRecord, bytes]:
        """Parses a record and returns it with the leaf hash the JSON claims (checked by the verifier)."""
        obj = require_object(value, where, _RECORD_KEYS)
        time_base = obj["time_base"]
        if (
            not isinstance(time_base, list)
            or len(time_base) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) and 0 < x < 2**31 for x in time_base)
        ):
            raise ManifestError(f"{where}.time_base: expected [num, den] with positive 32-bit integers")
        metadata = obj["metadata"]
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise ManifestError(f"{where}.metadata: expected an object of string values")
        for k, v in metadata.items():
            _check_utf8(k, f"{where}.metadata key")
            _check_utf8(v, f"{where}.metadata[{k!r}]")
        record = cls(
            index=require_int(obj, "index", where),
            start_pts=require_int(obj, "start_pts", where, minimum=None, nullable=True),
            end_pts=require_int(obj, "end_pts", where, minimum=None, nullable=True),
            time_base=(time_base[0], time_base[1]),
            packet_count=require_int(obj, "packet_count", where),
            byte_length=require_int(obj, "byte_length", where, maximum=2**64 - 1),
            payload_digest=require_hex(obj, "payload_sha256", where, size=32),
            timing_digest=require_hex(obj, "timing_sha256", where, size=32),
            stream_params_digest=require_hex(obj, "stream_params_sha256", where, size=32),
            metadata=dict(metadata),
        )
        if record.start_pts == -(2**63) or record.end_pts == -(2**63):
            raise ManifestError(f"{where}: -2**63 is reserved; a missing timestamp is null")
        return record, require_hex(obj, "leaf_hash", where, size=32)


def _check_utf8(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ManifestError(f"{where}: not encodable as UTF-8") from None


@dataclass(frozen=True)
class Segmentation:
    """The records of one media file. ``error`` says why demuxing stopped early (None: reached the end)."""

    records: tuple[SegmentRecord, ...]
    stream_params_digest: bytes
    packet_count: int
    byte_length: int
    error: str | None


def signed_target_duration(target_duration_s: float) -> float:
    """The segment target as the signed tree head stores it (whole microseconds). Recorders segment with
    this value so that a verifier, reading it back from the manifest, cuts at exactly the same frames."""
    if not math.isfinite(target_duration_s) or not 0 <= target_duration_s <= 86_400:
        raise InvalidArgument(
            f"target_duration_s must be between 0 and 86400 seconds, got {target_duration_s}"
        )
    return round(target_duration_s * 1_000_000) / 1_000_000


def _url(source: str | os.PathLike[str]) -> str:
    return os.fspath(source)


def segment_file(
    source: str | os.PathLike[str],
    *,
    target_duration_s: float = 2.0,
    metadata: Mapping[str, str] | None = None,
    input_format: str | None = None,
    stream_params_version: int = core.STREAM_PARAMS_VERSION,
) -> Segmentation:
    """Splits media (a path or any libavformat URL) into GOP-aligned segment records, without decoding.
    `stream_params_version`: what stream_params_digest covers (a manifest's own, to verify an older one)."""
    result = core.segment_media(
        _url(source), target_duration_s=target_duration_s, input_format=input_format or "",
        stream_params_version=stream_params_version,
    )
    records = tuple(SegmentRecord._from_native(d, metadata) for d in result["segments"])
    return Segmentation(
        records,
        bytes(result["stream_params_digest"]),
        int(result["packet_count"]),
        int(result["byte_length"]),
        result["error"],
    )


def stream_segments(
    source: str | os.PathLike[str],
    on_segment: Callable[[SegmentRecord], bool | None],
    *,
    target_duration_s: float = 2.0,
    input_format: str | None = None,
    stream_params_version: int = core.STREAM_PARAMS_VERSION,
) -> str | None:
    """Segments a live or sequential source, calling on_segment as each segment closes (False stops).

    Returns None at the end of the stream, else why demuxing stopped early."""
    result = core.segment_media(
        _url(source),
        target_duration_s=target_duration_s,
        input_format=input_format or "",
        stream_params_version=stream_params_version,
        on_segment=lambda d: on_segment(SegmentRecord._from_native(d)),
    )
    error: str | None = result["error"]
    return error
