"""`kuzet keys / seal / verify / exhibit / verify-exhibit` and their documented exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kuzet.cli import main

HAMILTON = "faces/video/short_hamilton_clip.mp4"


@pytest.fixture()
def sealed(data_dir: Path, tmp_path: Path) -> dict[str, Path]:
    keys = tmp_path / "cam"
    assert main(["keys", "generate", "--out", str(keys)]) == 0
    manifest = tmp_path / "m.json"
    assert (
        main(
            [
                "seal",
                str(data_dir / HAMILTON),
                "--key",
                f"{keys}.key",
                "--out",
                str(manifest),
                "--segment-seconds",
                "1",
                "--meta",
                "device_id=cam-1",
                "--log-id",
                "cam-1/rec-9",
            ]
        )
        == 0
    )
    return {"key": Path(f"{keys}.key"), "pub": Path(f"{keys}.pub"), "manifest": manifest}


def test_verify_ok(data_dir: Path, sealed, capsys) -> None:
    capsys.readouterr()
    code = main(
        [
            "verify",
            str(data_dir / HAMILTON),
            "--manifest",
            str(sealed["manifest"]),
            "--key",
            str(sealed["pub"]),
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["status"] == "ok" and report["exit_code"] == 0
    assert report["expected_segments"] == report["actual_segments"] == 6


def test_verify_tampered_names_segments(data_dir: Path, sealed, tmp_path: Path, capsys) -> None:
    data = bytearray((data_dir / HAMILTON).read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside mdat: some packet's payload
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(bytes(data))
    capsys.readouterr()
    code = main(["verify", str(edited), "--manifest", str(sealed["manifest"]), "--key", str(sealed["pub"])])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("TAMPERED") and "modified: segments" in out


def test_verify_bad_signature_and_bad_tree(data_dir: Path, sealed, tmp_path: Path) -> None:
    other = tmp_path / "other"
    main(["keys", "generate", "--out", str(other)])
    video = str(data_dir / HAMILTON)
    assert main(["verify", video, "--manifest", str(sealed["manifest"]), "--key", f"{other}.pub"]) == 2
    doc = json.loads(sealed["manifest"].read_text())
    doc["segments"][0]["metadata"]["device_id"] = "cam-2"
    doc["segments"][0]["leaf_hash"] = "00" * 32
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(doc))
    assert main(["verify", video, "--manifest", str(edited), "--key", str(sealed["pub"])]) == 2


def test_verify_bad_manifest_and_usage_errors(data_dir: Path, sealed, tmp_path: Path, capsys) -> None:
    video = str(data_dir / HAMILTON)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "kuzet-evidence-manifest", "version": 7}')
    capsys.readouterr()
    assert main(["verify", video, "--manifest", str(broken), "--key", str(sealed["pub"])]) == 3
    assert "bad manifest" in capsys.readouterr().err
    assert (
        main(
            [
                "verify",
                str(tmp_path / "nope.mp4"),
                "--manifest",
                str(sealed["manifest"]),
                "--key",
                str(sealed["pub"]),
            ]
        )
        == 4
    )
    assert (
        main(["verify", video, "--manifest", str(tmp_path / "nope.json"), "--key", str(sealed["pub"])]) == 4
    )
    assert (
        main(["verify", video, "--manifest", str(sealed["manifest"]), "--key", str(sealed["manifest"])]) == 4
    )
    with pytest.raises(SystemExit) as exc:
        main(["verify", video, "--manifest", str(sealed["manifest"])])  # no trusted key given
    assert exc.value.code == 4
    capsys.readouterr()
    for bad in ("-1", "nan"):  # a segment duration no manifest can carry: a usage error, no traceback
        assert main(["seal", video, "--key", str(sealed["key"]), "--out", str(tmp_path / "new.json"),
                     "--segment-seconds", bad]) == 4
    assert "Traceback" not in capsys.readouterr().err


def test_keys_public_and_exhibits(sealed, tmp_path: Path, capsys) -> None:
    capsys.readouterr()
    assert main(["keys", "public", str(sealed["key"])]) == 0
    assert capsys.readouterr().out == sealed["pub"].read_text()
    exhibit = tmp_path / "segment3.json"
    assert main(["exhibit", str(sealed["manifest"]), "--segment", "3", "--out", str(exhibit)]) == 0
    capsys.readouterr()
    assert main(["verify-exhibit", str(exhibit), "--key", str(sealed["pub"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["ok"]
        and result["segment"]["index"] == 3
        and result["segment"]["metadata"] == {"device_id": "cam-1"}
    )
    doc = json.loads(exhibit.read_text())
    doc["inclusion_proof"][0] = "11" * 32
    exhibit.write_text(json.dumps(doc))
    assert main(["verify-exhibit", str(exhibit), "--key", str(sealed["pub"])]) == 2
    assert main(["exhibit", str(sealed["manifest"]), "--segment", "99", "--out", str(exhibit)]) == 4


def test_verify_consistency_of_checkpoints(data_dir: Path, sealed, tmp_path: Path) -> None:
    import kuzet.evidence as ev

    key = ev.load_private_key(sealed["key"])
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=1.0).records
    old, new, forked = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "forked.json"
    ev.build_manifest(records[:2], key, log_id="cam", target_duration_s=1.0).write(old)
    ev.build_manifest(records, key, log_id="cam", target_duration_s=1.0).write(new)
    ev.build_manifest(
        [records[0].with_metadata({"x": "y"}), *records[1:]], key, log_id="cam", target_duration_s=1.0
    ).write(forked)
    pub = str(sealed["pub"])
    assert main(["verify-consistency", str(old), str(new), "--key", pub]) == 0
    assert main(["verify-consistency", str(old), str(forked), "--key", pub]) == 2  # history rewritten
    assert main(["verify-consistency", str(new), str(old), "--key", pub]) == 2  # shrunk


def test_checkpoints_of_another_recording_or_dated_before_are_no_continuation(data_dir: Path, sealed,
                                                                              tmp_path: Path) -> None:
    import kuzet.evidence as ev

    key = ev.load_private_key(sealed["key"])
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=1.0).records
    old = tmp_path / "old.json"
    ev.build_manifest(records[:2], key, log_id="cam", target_duration_s=1.0, timestamp_ms=2000).write(old)
    pub = str(sealed["pub"])
    for name, kwargs in (("other_log", {"log_id": "another-recording", "timestamp_ms": 3000}),
                         ("earlier", {"log_id": "cam", "timestamp_ms": 1000})):
        path = tmp_path / f"{name}.json"
        ev.build_manifest(records, key, target_duration_s=1.0, **kwargs).write(path)  # type: ignore[arg-type]
        assert main(["verify-consistency", str(old), str(path), "--key", pub]) == 2, name


def test_manifests_with_a_key_twice_or_broken_text_are_malformed(sealed, tmp_path: Path, data_dir: Path) -> None:
    """A key twice: Python reads the last value, other readers the first, so a signed manifest could show a
    reader an officer nobody signed; a lone surrogate cannot be the signed UTF-8 bytes."""
    text = sealed["manifest"].read_text()
    video, pub = str(data_dir / HAMILTON), str(sealed["pub"])
    twice = tmp_path / "twice.json"
    twice.write_text(text.replace('"device_id": "cam-1"', '"device_id": "cam-7", "device_id": "cam-1"', 1))
    surrogate = tmp_path / "surrogate.json"
    surrogate.write_text(text.replace('"log_id": "cam-1/rec-9"', '"log_id": "\\ud800"', 1))
    for path, why in ((twice, "more than once"), (surrogate, "surrogate")):
        assert path.read_text() != text
        assert main(["verify", video, "--manifest", str(path), "--key", pub]) == 3, why
