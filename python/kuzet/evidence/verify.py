"""Verifies a recording against its signed manifest and names each segment that does not match."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from kuzet._native import core
from kuzet.evidence.compare import align
from kuzet.evidence.errors import EvidenceError
from kuzet.evidence.keys import PublicKey
from kuzet.evidence.manifest import Manifest, load_manifest
from kuzet.evidence.records import SegmentRecord, segment_file
from kuzet.evidence.tree_head import find_signer

#: Exit codes of `kuzet verify` (and VerificationReport.exit_code).
EXIT_OK = 0
EXIT_TAMPERED = 1
EXIT_BAD_SIGNATURE = 2  # no trusted key signed this tree head, or the segments do not hash to its root
EXIT_BAD_MANIFEST = 3
EXIT_USAGE = 4


@dataclass(frozen=True)
class VerificationReport:
    status: str  # "ok", "tampered", "bad_signature" or "bad_tree"
    signature_valid: bool
    signer_key_id: str | None
    tree_valid: bool  # the manifest's records hash to the signed root (and match their stated leaf hashes)
    expected_segments: int
    actual_segments: int
    modified: tuple[int, ...]
    missing: tuple[int, ...]
    extra: tuple[int, ...]  # positions in the examined recording
    reordered: tuple[int, ...]
    retimed: tuple[int, ...]
    stream_params_changed: bool  # codec/extradata/time base of the streams differ from the recording's
    media_error: str | None  # the recording could not be (fully) demuxed: truncated or corrupt container
    actual_order: tuple[int | None, ...]  # per recording segment: the manifest index with its packets
    duplicates: tuple[tuple[int, int], ...]  # (recording position, manifest index) of repeated segments

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def payload_intact(self) -> bool:
        """Every manifest segment's packets are present, once, in order (timestamps or container aside)."""
        return not (self.modified or self.missing or self.extra or self.reordered or self.media_error)

    @property
    def exit_code(self) -> int:
        return {"ok": EXIT_OK, "tampered": EXIT_TAMPERED}.get(self.status, EXIT_BAD_SIGNATURE)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["payload_intact"] = self.payload_intact
        d["exit_code"] = self.exit_code
        return d

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.actual_segments} segments match the signed manifest (key {self.signer_key_id})"
        lines = [f"{self.status.upper()}"]
        if not self.signature_valid:
            lines.append("  signature: not made by any trusted key")
        if not self.tree_valid:
            lines.append("  tree: the manifest's segments do not hash to the signed root")
        for name in ("modified", "missing", "extra", "reordered", "retimed"):
            values = getattr(self, name)
            if values:
                what = "recording positions" if name == "extra" else "segments"
                lines.append(f"  {name}: {what} {', '.join(map(str, values))}")
        for position, index in self.duplicates:
            lines.append(f"  recording position {position} repeats segment {index}")
        if self.payload_intact and self.retimed:
            lines.append("  every segment's packets are intact: only timestamps (or the container) changed")
        if self.stream_params_changed:
            lines.append("  stream parameters (codecs, extradata, time bases) changed")
        if self.media_error:
            lines.append(f"  media: {self.media_error}")
        lines.append(f"  segments: manifest {self.expected_segments}, recording {self.actual_segments}")
        return "\n".join(lines)


def check_tree(manifest: Manifest) -> bool:
    """The records' leaf hashes equal the stated ones and their Merkle root is the signed root."""
    leaves = manifest.leaf_hashes()
    return (
        manifest.tree_head.tree_size == len(leaves)
        and tuple(leaves) == manifest.claimed_leaf_hashes
        and bytes(core.merkle_root(leaves)) == manifest.tree_head.root_hash
    )


def verify(
    video: str | os.PathLike[str],
    *,
    manifest: Manifest | str | os.PathLike[str],
    public_keys: Iterable[PublicKey],
) -> VerificationReport:
    """Checks the signature with the given trusted keys only, the tree, and re-segments the recording.

    Raises EvidenceError when the video file does not exist or a file cannot be read, ManifestError when
    the manifest is malformed. A file that exists but cannot be demuxed is reported as tampered."""
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    keys = list(public_keys)
    if not keys:
        raise EvidenceError("no trusted public key given: the verifier never trusts a key from the manifest")
    path = os.fspath(video)
    if "://" not in path and not os.path.isfile(path):
        raise EvidenceError(f"cannot read recording '{path}': no such file")

    signer = find_signer(manifest.tree_head, manifest.signature, keys)
    tree_valid = check_tree(manifest)

    actual: tuple[SegmentRecord, ...] = ()
    media_error: str | None = None
    params_changed = False
    try:
        seg = segment_file(path, target_duration_s=manifest.target_duration_s,
                           stream_params_version=manifest.stream_params_version)
        actual, media_error = seg.records, seg.error
        expected_params = {r.stream_params_digest for r in manifest.records}
        params_changed = bool(expected_params) and expected_params != {seg.stream_params_digest}
    except EvidenceError as exc:
        media_error = str(exc)

    al = align(manifest.records, actual)
    tampered = bool(
        al.modified or al.missing or al.extra or al.reordered or al.retimed or params_changed or media_error
    )
    if signer is None:
        status = "bad_signature"
    elif not tree_valid:
        status = "bad_tree"
    else:
        status = "tampered" if tampered else "ok"
    return VerificationReport(
        status=status,
        signature_valid=signer is not None,
        signer_key_id=signer.key_id if signer else None,
        tree_valid=tree_valid,
        expected_segments=len(manifest.records),
        actual_segments=len(actual),
        modified=al.modified,
        missing=al.missing,
        extra=al.extra,
        reordered=al.reordered,
        retimed=al.retimed,
        stream_params_changed=params_changed,
        media_error=media_error,
        actual_order=al.actual_order,
        duplicates=al.duplicates,
    )
