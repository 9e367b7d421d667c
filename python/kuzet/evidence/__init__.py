"""Tamper-evident evidence hashing of recordings.

A recording is split at video key frames into segments whose compressed packets are hashed (no decoding);
each segment's canonical record is a leaf of an RFC 6962 Merkle tree whose head is signed with Ed25519.
See docs/evidence-format.md for the formats and `kuzet verify` / `kuzet keys` / `kuzet seal` for the CLI.
"""

from __future__ import annotations

from kuzet.evidence.errors import EvidenceError, KeyFormatError, ManifestError
from kuzet.evidence.exhibit import (
    ExhibitReport,
    consistency_proof,
    make_exhibit,
    verify_consistency,
    verify_exhibit,
)
from kuzet.evidence.keys import (
    PrivateKey,
    PublicKey,
    generate_keypair,
    load_private_key,
    load_public_key,
    write_keypair,
)
from kuzet.evidence.live import EvidenceLog
from kuzet.evidence.manifest import Manifest, build_manifest, load_manifest, parse_manifest
from kuzet.evidence.records import Segmentation, SegmentRecord, segment_file, stream_segments
from kuzet.evidence.seal import seal
from kuzet.evidence.tree_head import Signature, TreeHead
from kuzet.evidence.verify import VerificationReport, verify

__all__ = [
    "EvidenceError",
    "KeyFormatError",
    "ManifestError",
    "ExhibitReport",
    "consistency_proof",
    "make_exhibit",
    "verify_consistency",
    "verify_exhibit",
    "PrivateKey",
    "PublicKey",
    "generate_keypair",
    "load_private_key",
    "load_public_key",
    "write_keypair",
    "EvidenceLog",
    "Manifest",
    "build_manifest",
    "load_manifest",
    "parse_manifest",
    "Segmentation",
    "SegmentRecord",
    "segment_file",
    "stream_segments",
    "seal",
    "Signature",
    "TreeHead",
    "VerificationReport",
    "verify",
]
