"""SHA-256 (OpenSSL EVP) against every NIST CAVP SHAVS vector: ShortMsg, LongMsg and Monte Carlo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kuzet._native import core


def _vectors(data_dir: Path, name: str) -> dict:
    return json.loads((data_dir / "hash/nist_cavp_sha256" / name).read_text())


@pytest.mark.parametrize("name", ["SHA256ShortMsg.json", "SHA256LongMsg.json"])
def test_nist_message_vectors(data_dir: Path, name: str) -> None:
    doc = _vectors(data_dir, name)
    assert len(doc["vectors"]) == doc["count"] and doc["count"] in (64, 65)
    for v in doc["vectors"]:
        msg = bytes.fromhex(v["msg_hex"])
        assert len(msg) * 8 == v["len_bits"]
        assert core.sha256(msg).hex() == v["sha256_hex"], v["len_bits"]


@pytest.mark.parametrize("name", ["SHA256ShortMsg.json", "SHA256LongMsg.json"])
def test_nist_vectors_incrementally_in_uneven_chunks(data_dir: Path, name: str) -> None:
    hasher = core.Sha256()
    for v in _vectors(data_dir, name)["vectors"]:
        msg = bytes.fromhex(v["msg_hex"])
        for start in range(0, len(msg), 7):
            hasher.update(msg[start : start + 7])
        assert hasher.finish().hex() == v["sha256_hex"]  # finish() also resets for the next message


def test_nist_monte_carlo(data_dir: Path) -> None:
    doc = _vectors(data_dir, "SHA256Monte.json")
    seed = bytes.fromhex(doc["seed_hex"])
    assert len(doc["checkpoints_hex"]) == 100
    for checkpoint in doc["checkpoints_hex"]:
        md = [seed, seed, seed]
        for _ in range(1000):
            md.append(core.sha256(md[-3] + md[-2] + md[-1]))
            del md[0]
        seed = md[-1]
        assert seed.hex() == checkpoint


def test_accepts_buffers_without_copying_and_rejects_non_contiguous() -> None:
    data = np.arange(1 << 20, dtype=np.uint32)  # 4 MiB: the GIL is released for this one
    expected = core.sha256(data.tobytes())
    assert core.sha256(data) == expected
    assert core.sha256(memoryview(data.tobytes())) == expected
    assert core.sha256(bytearray(b"abc")).hex().startswith("ba7816bf")
    with pytest.raises(ValueError, match="contiguous"):
        core.sha256(data[::2])
    with pytest.raises(TypeError):
        core.sha256("text is not bytes")
