"""The evidence manifest: segment records, their Merkle tree head and its Ed25519 signature (JSON v1)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuzet._native import core
from kuzet.evidence._json import loads_strict, require_list, require_literal, require_object
from kuzet.evidence.errors import EvidenceError, ManifestError
from kuzet.evidence.keys import PrivateKey
from kuzet.evidence.records import SegmentRecord
from kuzet.evidence.tree_head import Signature, TreeHead, sign_tree_head

MANIFEST_FORMAT = "kuzet-evidence-manifest"
MANIFEST_VERSION = 1
#: What new manifests are made with. "stream_params" names what each record's stream_params_digest covers
#: (docs/evidence-format.md); manifests without it (kuzet before 2026-12-05) use version 1 of it.
ALGORITHMS = {
    "hash": "sha256",
    "tree": "rfc6962",
    "record": core.SEGMENT_RECORD_TAG,
    "tree_head": "kuzet.sth.v1",
    "signature": "ed25519",
    "stream_params": f"kuzet.params.v{core.STREAM_PARAMS_VERSION}",
}
_ALGORITHMS_BY_PARAMS_VERSION = {
    1: {k: v for k, v in ALGORITHMS.items() if k != "stream_params"},
    2: {**ALGORITHMS, "stream_params": "kuzet.params.v2"},
}
#: Manifests larger than this are refused before parsing (a 24 h recording at 2 s segments is ~25 MB).
MAX_MANIFEST_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    records: tuple[SegmentRecord, ...]
    tree_head: TreeHead
    signature: Signature
    # Leaf hashes as written in the file; the verifier checks them against the records.
    claimed_leaf_hashes: tuple[bytes, ...]
    # What the records' stream_params_digest covers (1 or 2): the verifier segments the recording the same way.
    stream_params_version: int = core.STREAM_PARAMS_VERSION

    @property
    def target_duration_s(self) -> float:
        return self.tree_head.target_duration_us / 1e6

    def leaf_hashes(self) -> list[bytes]:
        """Leaf hashes recomputed from the records."""
        return [r.leaf_hash() for r in self.records]

    def to_json(self) -> dict[str, Any]:
        return {**self.to_json_without_segments(), "segments": [r.to_json() for r in self.records]}

    def dumps(self, record_texts: Sequence[str] | None = None) -> str:
        """The manifest file's text. `record_texts`: the records already as `record_text` gives them (a live
        log keeps them, so a checkpoint does not serialise every earlier segment again); same text."""
        if record_texts is None:
            return json.dumps(self.to_json(), indent=1, sort_keys=False) + "\n"
        skeleton = json.dumps(self.to_json_without_segments(), indent=1)
        segments = "[\n" + ",\n".join(record_texts) + "\n ]" if record_texts else "[]"
        return skeleton.replace('"segments": []', '"segments": ' + segments, 1) + "\n"

    def to_json_without_segments(self) -> dict[str, Any]:
        """to_json's keys in its order, "segments" left empty."""
        return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
                "algorithms": dict(_ALGORITHMS_BY_PARAMS_VERSION[self.stream_params_version]),
                "segments": [], "tree_head": self.tree_head.to_json(), "signature": self.signature.to_json()}

    def write(self, path: str | os.PathLike[str], record_texts: Sequence[str] | None = None) -> None:
        """Writes atomically: temp file, fsync, rename, fsync of the directory."""
        atomic_write_text(path, self.dumps(record_texts))


def record_text(record: SegmentRecord) -> str:
    """A record as Manifest.dumps writes it inside "segments" (indented two levels)."""
    return "\n".join("  " + line for line in json.dumps(record.to_json(), indent=1).split("\n"))


def build_manifest(
    records: Sequence[SegmentRecord],
    key: PrivateKey,
    *,
    log_id: str,
    target_duration_s: float,
    timestamp_ms: int | None = None,
    leaf_hashes: Sequence[bytes] | None = None,
    stream_params_version: int = core.STREAM_PARAMS_VERSION,
) -> Manifest:
    """Builds and signs the manifest of these records (indices must run 0..n-1). `leaf_hashes`: theirs, when
    the caller already has them (a live log); else computed here."""
    for position, record in enumerate(records):
        if record.index != position:
            raise ManifestError(f"segment at position {position} has index {record.index}")
    leaves = [r.leaf_hash() for r in records] if leaf_hashes is None else list(leaf_hashes)
    head = TreeHead(
        tree_size=len(records),
        root_hash=bytes(core.merkle_root(leaves)),
        timestamp_ms=int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        log_id=log_id,
        target_duration_us=round(target_duration_s * 1_000_000),
    )
    return Manifest(tuple(records), head, sign_tree_head(head, key), tuple(leaves), stream_params_version)


def parse_manifest(text: str | bytes) -> Manifest:
    """Parses a manifest strictly; any deviation from format v1 is a ManifestError naming the field."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"manifest is larger than {MAX_MANIFEST_BYTES} bytes")
    value = loads_strict(text, "manifest")
    obj = require_object(
        value, "manifest", {"format", "version", "algorithms", "segments", "tree_head", "signature"}
    )
    require_literal(obj, "format", "manifest", MANIFEST_FORMAT)
    if obj["version"] != MANIFEST_VERSION or type(obj["version"]) is not int:
        raise ManifestError(
            f"manifest.version: unsupported version {obj['version']!r} (this kuzet reads "
            f"version {MANIFEST_VERSION})"
        )
    params_version = next((v for v, a in _ALGORITHMS_BY_PARAMS_VERSION.items() if obj["algorithms"] == a), None)
    if params_version is None:
        raise ManifestError(f"manifest.algorithms: expected {ALGORITHMS}, got {obj['algorithms']!r}")
    segments = require_list(obj, "segments", "manifest")
    records: list[SegmentRecord] = []
    claimed: list[bytes] = []
    for position, item in enumerate(segments):
        record, leaf = SegmentRecord.from_json(item, f"manifest.segments[{position}]")
        if record.index != position:
            raise ManifestError(
                f"manifest.segments[{position}].index: expected {position}, got {record.index}"
            )
        records.append(record)
        claimed.append(leaf)
    head = TreeHead.from_json(obj["tree_head"], "manifest.tree_head")
    signature = Signature.from_json(obj["signature"], "manifest.signature")
    return Manifest(tuple(records), head, signature, tuple(claimed), params_version)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    try:
        size = os.path.getsize(path)
        if size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest '{os.fspath(path)}' is larger than {MAX_MANIFEST_BYTES} bytes")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(f"cannot read manifest '{os.fspath(path)}': {exc.strerror or exc}") from None
    return parse_manifest(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replaces path with text so that a crash leaves either the old or the new file, never a mix."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EvidenceError(f"cannot write '{os.fspath(path)}': {exc.strerror or exc}") from None
