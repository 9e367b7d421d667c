"""The signed tree head (STH): the exact bytes an Ed25519 signature covers."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kuzet.evidence._json import require_hex, require_int, require_object, require_str
from kuzet.evidence.errors import ManifestError
from kuzet.evidence.keys import PrivateKey, PublicKey

STH_TAG = b"kuzet.sth.v1"


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp_ms: int  # wall clock (Unix ms) when the head was signed
    log_id: str  # the recording's identity, chosen by the recorder (e.g. device serial + recording id)
    target_duration_us: int  # segmenter setting, so a verifier re-segments exactly as the recorder did

    def signed_bytes(self) -> bytes:
        """kuzet.sth.v1 || u64 tree_size || root || u64 timestamp_ms || u64 target_duration_us ||
        u32 len(log_id) || log_id (UTF-8); integers big-endian."""
        log_id = self.log_id.encode("utf-8")
        return (
            STH_TAG
            + struct.pack(">Q", self.tree_size)
            + self.root_hash
            + struct.pack(">QQI", self.timestamp_ms, self.target_duration_us, len(log_id))
            + log_id
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp_ms": self.timestamp_ms,
            "log_id": self.log_id,
            "target_duration_us": self.target_duration_us,
        }

    @classmethod
    def from_json(cls, value: Any, where: str = "tree_head") -> TreeHead:
        obj = require_object(
            value, where, {"tree_size", "root_hash", "timestamp_ms", "log_id", "target_duration_us"}
        )
        return cls(
            tree_size=require_int(obj, "tree_size", where),
            root_hash=require_hex(obj, "root_hash", where, size=32),
            timestamp_ms=require_int(obj, "timestamp_ms", where),
            log_id=require_str(obj, "log_id", where, max_len=1024),
            target_duration_us=require_int(obj, "target_duration_us", where, maximum=86_400_000_000),
        )


@dataclass(frozen=True)
class Signature:
    key_id: str  # a hint only: the verifier checks against the keys it trusts, never a key in the file
    value: bytes

    def to_json(self) -> dict[str, Any]:
        return {"algorithm": "ed25519", "key_id": self.key_id, "value": self.value.hex()}

    @classmethod
    def from_json(cls, value: Any, where: str = "signature") -> Signature:
        obj = require_object(value, where, {"algorithm", "key_id", "value"})
        if obj["algorithm"] != "ed25519":
            raise ManifestError(f"{where}.algorithm: only 'ed25519' is supported, got {obj['algorithm']!r}")
        require_hex(obj, "key_id", where, size=32)
        return cls(key_id=obj["key_id"], value=require_hex(obj, "value", where, size=64))


def sign_tree_head(head: TreeHead, key: PrivateKey) -> Signature:
    return Signature(key_id=key.public_key.key_id, value=key.sign(head.signed_bytes()))


def find_signer(head: TreeHead, signature: Signature, trusted: Iterable[PublicKey]) -> PublicKey | None:
    """The trusted key whose signature this is, or None."""
    message = head.signed_bytes()
    for key in trusted:
        if key.verify(message, signature.value):
            return key
    return None
