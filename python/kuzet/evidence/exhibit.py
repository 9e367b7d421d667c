"""Exhibits: one segment's record with its inclusion proof and the signed tree head, checkable alone."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuzet._native import core
from kuzet.evidence._json import (
    loads_strict,
    require_hex,
    require_int,
    require_list,
    require_literal,
    require_object,
)
from kuzet.evidence.errors import EvidenceError
from kuzet.evidence.keys import PublicKey
from kuzet.evidence.manifest import Manifest
from kuzet.evidence.records import SegmentRecord
from kuzet.evidence.tree_head import Signature, TreeHead, find_signer

EXHIBIT_FORMAT = "kuzet-evidence-exhibit"
EXHIBIT_VERSION = 1


def make_exhibit(manifest: Manifest, index: int) -> dict[str, Any]:
    """The JSON exhibit for segment index of a manifest."""
    if not 0 <= index < len(manifest.records):
        raise EvidenceError(f"segment {index} is not in this manifest ({len(manifest.records)} segments)")
    proof = core.inclusion_proof(manifest.leaf_hashes(), index)
    return {
        "format": EXHIBIT_FORMAT,
        "version": EXHIBIT_VERSION,
        "segment": manifest.records[index].to_json(),
        "leaf_index": index,
        "inclusion_proof": [bytes(h).hex() for h in proof],
        "tree_head": manifest.tree_head.to_json(),
        "signature": manifest.signature.to_json(),
    }


@dataclass(frozen=True)
class ExhibitReport:
    ok: bool
    signature_valid: bool
    signer_key_id: str | None
    inclusion_valid: bool
    segment: SegmentRecord
    tree_head: TreeHead


def verify_exhibit(
    exhibit: dict[str, Any] | str | os.PathLike[str], *, public_keys: Iterable[PublicKey]
) -> ExhibitReport:
    """Checks the tree head's signature with the trusted keys and the segment's inclusion proof."""
    if not isinstance(exhibit, dict):
        try:
            text = Path(exhibit).read_bytes()
        except OSError as exc:
            raise EvidenceError(
                f"cannot read exhibit '{os.fspath(exhibit)}': {exc.strerror or exc}"
            ) from None
        exhibit = loads_strict(text, "exhibit")
    obj = require_object(
        exhibit,
        "exhibit",
        {"format", "version", "segment", "leaf_index", "inclusion_proof", "tree_head", "signature"},
    )
    require_literal(obj, "format", "exhibit", EXHIBIT_FORMAT)
    require_literal(obj, "version", "exhibit", EXHIBIT_VERSION)
    record, claimed_leaf = SegmentRecord.from_json(obj["segment"], "exhibit.segment")
    index = require_int(obj, "leaf_index", "exhibit")
    proof_items = require_list(obj, "inclusion_proof", "exhibit", max_len=64)
    proof = [
        require_hex({"h": h}, "h", f"exhibit.inclusion_proof[{k}]", size=32)
        for k, h in enumerate(proof_items)
    ]
    head = TreeHead.from_json(obj["tree_head"], "exhibit.tree_head")
    signature = Signature.from_json(obj["signature"], "exhibit.signature")

    signer = find_signer(head, signature, list(public_keys))
    leaf = record.leaf_hash()
    inclusion = (
        leaf == claimed_leaf
        and record.index == index
        and bool(core.verify_inclusion(leaf, index, head.tree_size, proof, head.root_hash))
    )
    return ExhibitReport(
        ok=signer is not None and inclusion,
        signature_valid=signer is not None,
        signer_key_id=signer.key_id if signer else None,
        inclusion_valid=inclusion,
        segment=record,
        tree_head=head,
    )


def consistency_proof(manifest: Manifest, old_size: int) -> list[bytes]:
    """RFC 6962 proof that the first old_size segments of manifest formed the tree of an earlier head."""
    if not 0 < old_size <= len(manifest.records):
        raise EvidenceError(f"old_size must be between 1 and {len(manifest.records)}, got {old_size}")
    return [bytes(h) for h in core.consistency_proof(manifest.leaf_hashes(), old_size)]


def verify_consistency(old: TreeHead, new: TreeHead, proof: list[bytes]) -> bool:
    """True when the tree of old is a prefix of the tree of new (RFC 6962 consistency proof)."""
    return bool(core.verify_consistency(old.tree_size, new.tree_size, proof, old.root_hash, new.root_hash))
