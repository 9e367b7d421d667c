"""RFC 6962 Merkle trees: the reference tree, all transparency-dev accept/reject probes, and property tests
against a tiny pure-Python RFC 6962 implementation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuzet._native import core

RFC = "hash/rfc6962_transparency_dev"


def _load(data_dir: Path, name: str) -> dict:
    return json.loads((data_dir / RFC / name).read_text())


def _hexes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


# --- a tiny reference implementation, straight from RFC 6962 section 2.1 ---
def ref_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1 << ((n - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


# --- the RFC 6962 reference tree (transparency-dev/merkle constants) ---
def test_hasher_vectors(data_dir: Path) -> None:
    doc = _load(data_dir, "rfc6962_reference_tree.json")
    assert doc["hasher_vectors"]
    for v in doc["hasher_vectors"]:
        if v["op"] == "empty_root":
            got = core.empty_tree_root()
        elif v["op"] == "hash_leaf":
            got = core.leaf_hash(bytes.fromhex(v["input_hex"]))
        else:
            assert v["op"] == "hash_children", v
            got = core.node_hash(bytes.fromhex(v["left_hex"]), bytes.fromhex(v["right_hex"]))
        assert got.hex() == v["want_hex"], v["desc"]


def test_reference_tree_roots_and_nodes(data_dir: Path) -> None:
    doc = _load(data_dir, "rfc6962_reference_tree.json")
    leaves = [core.leaf_hash(bytes.fromhex(x)) for x in doc["leaf_inputs_hex"]]
    assert [h.hex() for h in leaves] == doc["node_hashes_by_level_hex"][0]
    roots = doc["root_hashes_by_tree_size_hex"]
    assert len(roots) == 9
    for size, root in enumerate(roots):
        assert core.merkle_root(leaves, size).hex() == root
        assert core.merkle_root(leaves[:size]).hex() == root


def test_reference_tree_all_inclusion_proofs(data_dir: Path) -> None:
    doc = _load(data_dir, "rfc6962_reference_tree.json")
    leaves = [core.leaf_hash(bytes.fromhex(x)) for x in doc["leaf_inputs_hex"]]
    vectors = doc["derived_all_inclusion_proofs"]["vectors"]
    assert len(vectors) == 36
    for v in vectors:
        proof = core.inclusion_proof(leaves, v["leaf_index"], v["tree_size"])
        assert [p.hex() for p in proof] == v["proof_hex"]
        assert core.verify_inclusion(
            bytes.fromhex(v["leaf_hash_hex"]),
            v["leaf_index"],
            v["tree_size"],
            proof,
            bytes.fromhex(v["root_hex"]),
        )


def test_reference_tree_all_consistency_proofs(data_dir: Path) -> None:
    doc = _load(data_dir, "rfc6962_reference_tree.json")
    leaves = [core.leaf_hash(bytes.fromhex(x)) for x in doc["leaf_inputs_hex"]]
    vectors = doc["derived_all_consistency_proofs"]["vectors"]
    assert len(vectors) == 36
    for v in vectors:
        proof = core.consistency_proof(leaves, v["size1"], v["size2"])
        assert [p.hex() for p in proof] == v["proof_hex"]
        assert core.verify_consistency(
            v["size1"], v["size2"], proof, bytes.fromhex(v["root1_hex"]), bytes.fromhex(v["root2_hex"])
        )


# --- every upstream probe: accept exactly the ones that must be accepted ---
def test_inclusion_probes(data_dir: Path) -> None:
    doc = _load(data_dir, "inclusion_probes.json")
    assert len(doc["vectors"]) == doc["count"] == 98
    for v in doc["vectors"]:
        ok = core.verify_inclusion(
            bytes.fromhex(v["leaf_hash_hex"]),
            v["leaf_index"],
            v["tree_size"],
            _hexes(v["proof_hex"]),
            bytes.fromhex(v["root_hex"]),
        )
        assert ok is not v["want_err"], v["file"]


def test_consistency_probes(data_dir: Path) -> None:
    doc = _load(data_dir, "consistency_probes.json")
    assert len(doc["vectors"]) == doc["count"] == 98
    for v in doc["vectors"]:
        ok = core.verify_consistency(
            v["size1"],
            v["size2"],
            _hexes(v["proof_hex"]),
            bytes.fromhex(v["root1_hex"]),
            bytes.fromhex(v["root2_hex"]),
        )
        assert ok is not v["want_err"], v["file"]


def test_invalid_tree_arguments_raise_value_errors() -> None:
    leaves = [ref_leaf(bytes([i])) for i in range(4)]
    with pytest.raises(ValueError, match="32-byte"):
        core.merkle_root([b"short"])
    with pytest.raises(ValueError, match="smaller than tree_size"):
        core.inclusion_proof(leaves, 4)
    with pytest.raises(ValueError, match="larger than the number of leaves"):
        core.merkle_root(leaves, 5)
    with pytest.raises(ValueError, match="0 < size1 <= size2"):
        core.consistency_proof(leaves, 0, 4)
    with pytest.raises(ValueError, match="0 < size1 <= size2"):
        core.consistency_proof(leaves, 3, 2)


# --- properties against the reference implementation ---
leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(data=leaf_lists, pick=st.integers(min_value=0))
def test_root_and_inclusion_match_reference(data: list[bytes], pick: int) -> None:
    leaves = [ref_leaf(d) for d in data]
    assert [core.leaf_hash(d) for d in data] == leaves
    root = core.merkle_root(leaves)
    assert root == ref_mth(leaves)
    index = pick % len(leaves)
    proof = core.inclusion_proof(leaves, index)
    assert proof == ref_path(index, leaves)
    assert core.verify_inclusion(leaves[index], index, len(leaves), proof, root)
    # another leaf, a flipped proof bit or a shortened proof must fail. (Another tree size may legitimately
    # verify: with repeated leaves, the same hashes can describe trees of two sizes.)
    other = (index + 1) % len(leaves)
    if leaves[other] != leaves[index]:
        assert not core.verify_inclusion(leaves[other], index, len(leaves), proof, root)
    if proof:
        bad = bytearray(proof[0])
        bad[pick % 32] ^= 1 << (pick % 8)
        assert not core.verify_inclusion(leaves[index], index, len(leaves), [bytes(bad), *proof[1:]], root)
        assert not core.verify_inclusion(leaves[index], index, len(leaves), proof[:-1], root)


@settings(max_examples=150, deadline=None)
@given(data=leaf_lists, pick=st.integers(min_value=0))
def test_consistency_matches_reference(data: list[bytes], pick: int) -> None:
    leaves = [ref_leaf(d) for d in data]
    size2 = len(leaves)
    size1 = 1 + pick % size2
    proof = core.consistency_proof(leaves, size1, size2)
    assert proof == ref_subproof(size1, leaves, True)
    root1, root2 = ref_mth(leaves[:size1]), ref_mth(leaves)
    assert core.verify_consistency(size1, size2, proof, root1, root2)
    if size1 < size2:
        assert not core.verify_consistency(size1, size2, proof, root2, root2)
        assert not core.verify_consistency(size1, size2, proof + [root1], root1, root2)
    assert not core.verify_consistency(0, size2, [], hashlib.sha256(b"").digest(), root2)
