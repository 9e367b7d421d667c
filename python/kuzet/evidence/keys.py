"""Ed25519 signing keys (PEM files). A verifier trusts only the public keys it is handed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kuzet._native import core
from kuzet.evidence.errors import EvidenceError


@dataclass(frozen=True)
class PublicKey:
    pem: str
    key_id: str  # hex SHA-256 of the raw 32-byte Ed25519 public key

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PublicKey:
        text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
        raw = bytes(core.ed25519_raw_public_key(text))
        return cls(pem=text, key_id=bytes(core.sha256(raw)).hex())

    def verify(self, message: bytes, signature: bytes) -> bool:
        return bool(core.ed25519_verify(self.pem, message, signature))


@dataclass(frozen=True, repr=False)
class PrivateKey:
    pem: str
    public_key: PublicKey

    @classmethod
    def from_pem(cls, pem: str | bytes) -> PrivateKey:
        text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
        return cls(pem=text, public_key=PublicKey.from_pem(core.ed25519_public_pem(text)))

    def sign(self, message: bytes) -> bytes:
        return bytes(core.ed25519_sign(self.pem, message))

    def __repr__(self) -> str:  # never print key material
        return f"PrivateKey(key_id={self.public_key.key_id})"


def generate_keypair() -> PrivateKey:
    private_pem, _ = core.ed25519_generate()
    return PrivateKey.from_pem(private_pem)


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise EvidenceError(f"cannot read key file '{os.fspath(path)}': {exc.strerror or exc}") from None


def load_private_key(path: str | os.PathLike[str]) -> PrivateKey:
    return PrivateKey.from_pem(_read(path))


def load_public_key(path: str | os.PathLike[str]) -> PublicKey:
    return PublicKey.from_pem(_read(path))


def write_keypair(
    key: PrivateKey, private_path: str | os.PathLike[str], public_path: str | os.PathLike[str]
) -> None:
    """Writes the private key readable by the owner only (0600) and the public key (0644). No overwrite."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for path, data, mode in ((private_path, key.pem, 0o600), (public_path, key.public_key.pem, 0o644)):
        try:
            fd = os.open(path, flags, mode)
        except OSError as exc:
            raise EvidenceError(
                f"cannot create key file '{os.fspath(path)}': {exc.strerror or exc}"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(data)
