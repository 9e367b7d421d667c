"""Manifest, keys, signatures and exhibits: round trips, clear errors, and a fuzzed parser."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import kuzet
import kuzet.evidence as ev
from kuzet._native import core

HAMILTON = "faces/video/short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def key() -> ev.PrivateKey:
    return ev.generate_keypair()


@pytest.fixture(scope="module")
def sealed(data_dir: Path, key: ev.PrivateKey) -> ev.Manifest:
    return ev.seal(
        data_dir / HAMILTON,
        private_key=key,
        target_duration_s=1.0,
        log_id="bodycam-7/2026-11-23",
        metadata={"device_id": "bodycam-7", "gps": "51.5007,-0.1246"},
        timestamp_ms=1_763_900_000_000,
    )


def test_rfc8032_ed25519_known_answer() -> None:
    # RFC 8032 section 7.1, TEST 2 (one-byte message 0x72)
    secret = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    pem = Ed25519PrivateKey.from_private_bytes(secret).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = ev.PrivateKey.from_pem(pem)
    assert core.ed25519_raw_public_key(key.public_key.pem).hex() == (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    )
    signature = key.sign(b"\x72")
    assert signature.hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )
    assert key.public_key.verify(b"\x72", signature)
    assert not key.public_key.verify(b"\x73", signature)


def test_manifest_round_trip_and_signed_bytes(
    sealed: ev.Manifest, key: ev.PrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "m.json"
    sealed.write(path)
    loaded = ev.load_manifest(path)
    assert loaded == sealed
    assert loaded.records[0].metadata == {"device_id": "bodycam-7", "gps": "51.5007,-0.1246"}
    head = loaded.tree_head
    assert head.tree_size == 6 and head.target_duration_us == 1_000_000
    # The signature covers exactly the documented bytes.
    message = head.signed_bytes()
    assert message.startswith(b"kuzet.sth.v1" + (6).to_bytes(8, "big") + head.root_hash)
    assert message.endswith(len(b"bodycam-7/2026-11-23").to_bytes(4, "big") + b"bodycam-7/2026-11-23")
    assert key.public_key.verify(message, loaded.signature.value)
    assert head.root_hash == core.merkle_root([r.leaf_hash() for r in loaded.records])
    # The leaf commits to the documented canonical record bytes.
    record = loaded.records[2]
    encoded = record.encode()
    assert encoded[:16] == b"kuzet.segment.v1" and encoded[16:24] == (2).to_bytes(8, "big")
    assert record.leaf_hash() == core.sha256(b"\x00" + encoded)


def test_verifier_rejects_other_keys_and_other_data(data_dir: Path, sealed: ev.Manifest, key) -> None:
    video = data_dir / HAMILTON
    stranger = ev.generate_keypair()
    report = ev.verify(video, manifest=sealed, public_keys=[stranger.public_key])
    assert report.status == "bad_signature" and report.exit_code == 2 and not report.signature_valid
    assert report.payload_intact  # the recording itself still matches what the manifest says
    # A valid signature, but over another tree head (here: another manifest's) does not transfer.
    other = ev.seal(video, private_key=key, target_duration_s=2.0)
    forged = ev.Manifest(sealed.records, sealed.tree_head, other.signature, sealed.claimed_leaf_hashes)
    assert ev.verify(video, manifest=forged, public_keys=[key.public_key]).status == "bad_signature"
    # Any trusted key may have signed it.
    assert ev.verify(video, manifest=sealed, public_keys=[stranger.public_key, key.public_key]).ok
    with pytest.raises(ev.EvidenceError, match="no trusted public key"):
        ev.verify(video, manifest=sealed, public_keys=[])


def test_edited_record_breaks_the_tree(data_dir: Path, sealed: ev.Manifest, key, tmp_path: Path) -> None:
    doc = json.loads(sealed.dumps())
    doc["segments"][1]["metadata"]["gps"] = "48.8584,2.2945"  # move the camera to Paris
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc))
    report = ev.verify(data_dir / HAMILTON, manifest=path, public_keys=[key.public_key])
    assert report.status == "bad_tree" and report.exit_code == 2 and report.signature_valid
    assert not report.tree_valid


def _mutate(doc: dict, path: tuple, value) -> dict:
    out = copy.deepcopy(doc)
    target = out
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), 2, "unsupported version 2"),
        (("version",), "1", "unsupported version"),
        (("format",), "something-else", "manifest.format"),
        (("algorithms", "hash"), "md5", "manifest.algorithms"),
        (("segments",), {}, "expected a JSON array"),
        (("segments", 0, "index"), 5, r"segments\[0\].index: expected 0"),
        (("segments", 0, "index"), True, "expected an integer"),
        (("segments", 1, "payload_sha256"), "zz" * 32, "not a hex string"),
        (("segments", 1, "payload_sha256"), "AB" * 32, "lowercase hex"),
        (("segments", 1, "timing_sha256"), "ab", "expected 32 bytes"),
        (("segments", 1, "time_base"), [1, 0], "time_base"),
        (("segments", 2, "metadata"), {"gps": 5}, "string values"),
        (("segments", 2, "packet_count"), -1, "out of range"),
        (("segments", 2, "leaf_hash"), KeyError, "missing field"),
        (("segments", 2, "surprise"), 1, "unknown field"),
        (("tree_head", "tree_size"), 2**64, "out of range"),
        (("tree_head", "root_hash"), None, "expected a string"),
        (("signature", "algorithm"), "rsa", "only 'ed25519'"),
        (("signature", "value"), "00" * 63, "expected 64 bytes"),
        (("signature",), KeyError, "missing field"),
    ],
)
def test_malformed_manifests_raise_clear_errors(sealed: ev.Manifest, path, value, message) -> None:
    doc = _mutate(json.loads(sealed.dumps()), path, value)
    with pytest.raises(ev.ManifestError, match=message):
        ev.parse_manifest(json.dumps(doc))


@pytest.mark.parametrize("text", [b"", b"{", b"[]", b"null", b"\xff\xfe", b"[" * 100_000, b'{"format": NaN}'])
def test_non_manifests(text: bytes) -> None:
    with pytest.raises(ev.ManifestError):
        ev.parse_manifest(text)


def test_error_hierarchy() -> None:
    assert issubclass(ev.ManifestError, ev.EvidenceError)
    assert issubclass(ev.KeyFormatError, ev.EvidenceError)
    assert issubclass(ev.EvidenceError, kuzet.KuzetError)


def test_bad_keys_raise_key_format_errors(tmp_path: Path) -> None:
    with pytest.raises(ev.KeyFormatError, match="private key"):
        ev.PrivateKey.from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ev.KeyFormatError, match="public key"):
        ev.PublicKey.from_pem(b"not a key")
    ecdsa_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ev.KeyFormatError, match="not an Ed25519 key"):
        ev.PublicKey.from_pem(ecdsa_pem)
    encrypted = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(ev.KeyFormatError):  # never prompts for a passphrase
        ev.PrivateKey.from_pem(encrypted)
    with pytest.raises(ev.EvidenceError, match="cannot read key file"):
        ev.load_public_key(tmp_path / "missing.pub")


def test_key_files(tmp_path: Path) -> None:
    key = ev.generate_keypair()
    ev.write_keypair(key, tmp_path / "k.key", tmp_path / "k.pub")
    assert (tmp_path / "k.key").stat().st_mode & 0o777 == 0o600
    assert ev.load_private_key(tmp_path / "k.key").public_key == key.public_key
    assert ev.load_public_key(tmp_path / "k.pub") == key.public_key
    assert key.public_key.key_id not in repr(key.pem) and "PRIVATE" not in repr(key)
    with pytest.raises(ev.EvidenceError, match="cannot create key file"):
        ev.write_keypair(key, tmp_path / "k.key", tmp_path / "other.pub")  # never overwrites a key


def test_exhibit_verifies_alone_and_detects_edits(sealed: ev.Manifest, key, tmp_path: Path) -> None:
    for index in range(6):
        exhibit = ev.make_exhibit(sealed, index)
        report = ev.verify_exhibit(exhibit, public_keys=[key.public_key])
        assert report.ok and report.segment == sealed.records[index]
    path = tmp_path / "exhibit.json"
    path.write_text(json.dumps(ev.make_exhibit(sealed, 4)))
    assert ev.verify_exhibit(path, public_keys=[key.public_key]).ok
    assert not ev.verify_exhibit(path, public_keys=[ev.generate_keypair().public_key]).ok

    tampered = ev.make_exhibit(sealed, 4)
    tampered["segment"]["byte_length"] += 1
    report = ev.verify_exhibit(tampered, public_keys=[key.public_key])
    assert report.signature_valid and not report.inclusion_valid and not report.ok
    moved = ev.make_exhibit(sealed, 4)
    moved["leaf_index"] = 3
    assert not ev.verify_exhibit(moved, public_keys=[key.public_key]).ok
    with pytest.raises(ev.ManifestError, match="exhibit.version"):
        ev.verify_exhibit({**ev.make_exhibit(sealed, 0), "version": 9}, public_keys=[key.public_key])
    with pytest.raises(ev.EvidenceError, match="not in this manifest"):
        ev.make_exhibit(sealed, 6)


def test_consistency_between_checkpoints(data_dir: Path, key) -> None:
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=0.0).records
    small = ev.build_manifest(records[:3], key, log_id="x", target_duration_s=0.0)
    large = ev.build_manifest(records, key, log_id="x", target_duration_s=0.0)
    proof = [bytes(p) for p in core.consistency_proof(large.leaf_hashes(), 3)]
    assert ev.verify_consistency(small.tree_head, large.tree_head, proof)
    forked = ev.build_manifest(
        [records[0].with_metadata({"edited": "yes"}), *records[1:]], key, log_id="x", target_duration_s=0.0
    )
    assert not ev.verify_consistency(small.tree_head, forked.tree_head, proof)


def test_odd_target_durations_verify(data_dir: Path, key) -> None:
    """The recorder segments with the target as signed (whole microseconds), so the verifier cuts alike."""
    for target in (1 / 3, 0.9999999, 1.0000004):
        manifest = ev.seal(data_dir / HAMILTON, private_key=key, target_duration_s=target)
        assert ev.verify(data_dir / HAMILTON, manifest=manifest, public_keys=[key.public_key]).ok


def test_bad_metadata_is_rejected(data_dir: Path, key) -> None:
    with pytest.raises(ValueError, match="str to str"):
        ev.seal(data_dir / HAMILTON, private_key=key, metadata={"gps": 51.5})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="UTF-8"):
        ev.seal(data_dir / HAMILTON, private_key=key, metadata={"note": "\ud800"})
    with pytest.raises(ValueError, match="target_duration_s"):
        ev.seal(data_dir / HAMILTON, private_key=key, target_duration_s=float("nan"))


def _records(payloads: list[str], starts: list[int]) -> list[ev.SegmentRecord]:
    import hashlib

    digest = lambda text: hashlib.sha256(text.encode()).digest()  # noqa: E731
    return [ev.SegmentRecord(i, start, start + 90, (1, 90000), 10, 1000, digest(p), digest(f"t{start}"),
                             digest("params")) for i, (p, start) in enumerate(zip(payloads, starts, strict=True))]


def test_a_cut_segment_and_an_altered_neighbour_are_blamed_right() -> None:
    from kuzet.evidence.compare import align

    expected = _records([f"p{i}" for i in range(8)], [i * 100 for i in range(8)])
    for cut, altered in ((3, 4), (4, 3)):
        kept = [r for r in expected if r.index != cut]  # timestamps kept, as a re-mux that drops packets does
        actual = [ev.SegmentRecord(r.index, r.start_pts, r.end_pts, r.time_base, r.packet_count, r.byte_length,
                                   b"x" * 32 if r.index == altered else r.payload_digest, r.timing_digest,
                                   r.stream_params_digest) for r in kept]
        al = align(expected, actual)
        assert (al.modified, al.missing, al.extra) == ((altered,), (cut,), ()), (cut, altered)


@pytest.mark.timeout(60)  # a guard against the hours the exact alignment took, not a timing
def test_a_long_static_scene_with_repeated_payloads_aligns() -> None:
    from kuzet.evidence.compare import align

    n = 3000  # a static scene: two payloads alternate; an attacker reorders them
    expected = _records([f"k{i % 2}" for i in range(n)], [i * 100 for i in range(n)])
    actual = _records([f"k{(i // 2) % 2}" for i in range(n)], [i * 100 for i in range(n)])
    al = align(expected, actual)
    assert al.modified or al.reordered or al.retimed  # noticed, whatever it is called
    assert align(expected, expected).actual_order == tuple(range(n))
