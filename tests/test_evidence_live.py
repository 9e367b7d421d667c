"""EvidenceLog: live appends, atomic signed checkpoints, crash behaviour, resume and consistency proofs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import kuzet.evidence as ev
from kuzet._native import core

HAMILTON = "faces/video/short_hamilton_clip.mp4"


@pytest.fixture(scope="module")
def key() -> ev.PrivateKey:
    return ev.generate_keypair()


def test_every_append_leaves_a_verifiable_checkpoint(data_dir: Path, key, tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    log = ev.EvidenceLog(
        path,
        private_key=key,
        log_id="bodycam-7/rec-1",
        target_duration_s=0.0,
        metadata={"device_id": "bodycam-7"},
    )
    assert ev.load_manifest(path).tree_head.tree_size == 0  # an empty log is a valid checkpoint
    heads = []
    for n, record in enumerate(ev.segment_file(data_dir / HAMILTON, target_duration_s=0.0).records, start=1):
        log.append(record, {"closed_at": f"2026-11-23T13:00:{n:02d}Z"})
        on_disk = ev.load_manifest(path)
        assert on_disk == log.manifest and on_disk.tree_head.tree_size == n
        assert key.public_key.verify(on_disk.tree_head.signed_bytes(), on_disk.signature.value)
        assert on_disk.records[-1].metadata == {
            "device_id": "bodycam-7",
            "closed_at": f"2026-11-23T13:00:{n:02d}Z",
        }
        heads.append(on_disk.tree_head)
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]  # no temp files left behind
    # every checkpoint is a prefix of every later one
    for old in heads:
        for new in heads:
            if old.tree_size <= new.tree_size:
                proof = [
                    bytes(h)
                    for h in core.consistency_proof(
                        log.manifest.leaf_hashes()[: new.tree_size], old.tree_size
                    )
                ]
                assert ev.verify_consistency(old, new, proof)
    assert ev.verify(data_dir / HAMILTON, manifest=path, public_keys=[key.public_key]).ok


def test_record_from_a_live_pipe_and_power_cut(data_dir: Path, key, tmp_path: Path) -> None:
    """A camera streams MPEG-TS into a FIFO; the recorder dies after 3 segments. The checkpoint on disk then
    holds exactly the closed segments, signed, and verifies as a prefix of the full recording."""
    ts_file = tmp_path / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(data_dir / HAMILTON), "-c", "copy", "-f", "mpegts", str(ts_file)],
        check=True,
    )
    fifo = tmp_path / "camera.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: _feed(ts_file, fifo))
    writer.start()
    path = tmp_path / "live.json"
    log = ev.EvidenceLog(path, private_key=key, log_id="cam", target_duration_s=1.0)
    error = log.record(fifo, input_format="mpegts", should_stop=lambda: log.tree_size >= 3)
    writer.join()
    assert error is None
    checkpoint = ev.load_manifest(path)
    assert checkpoint.tree_head.tree_size == 3
    full = ev.segment_file(ts_file, target_duration_s=1.0).records
    assert [r.payload_digest for r in checkpoint.records] == [r.payload_digest for r in full[:3]]
    # the complete recording, checked against the cut-off checkpoint: the first 3 verify, the rest is extra
    report = ev.verify(ts_file, manifest=path, public_keys=[key.public_key])
    assert report.actual_order[:3] == (0, 1, 2) and report.extra == tuple(range(3, len(full)))
    assert (report.modified, report.missing, report.retimed) == ((), (), ())


def _feed(src: Path, fifo: Path) -> None:
    try:
        with open(src, "rb") as s, open(fifo, "wb") as d:
            shutil.copyfileobj(s, d, length=8192)
    except BrokenPipeError:  # the recorder stopped reading
        pass


def test_crash_during_checkpoint_keeps_the_previous_one(
    data_dir: Path, key, tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "log.json"
    log = ev.EvidenceLog(path, private_key=key, log_id="cam", target_duration_s=0.0)
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=0.0).records
    log.append(records[0])
    log.append(records[1])
    before = path.read_bytes()

    def power_cut(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(ev.EvidenceError, match="cannot write"):
        log.append(records[2])
    monkeypatch.undo()
    assert path.read_bytes() == before and log.tree_size == 2
    assert [p.name for p in tmp_path.iterdir()] == ["log.json"]
    log.append(records[2])
    assert ev.load_manifest(path).tree_head.tree_size == 3


def test_killed_recorder_process_leaves_a_valid_checkpoint(data_dir: Path, key, tmp_path: Path) -> None:
    """A separate process appends segments and is SIGKILLed mid-recording: no partial file, ever."""
    key_file = tmp_path / "k.key"
    key_file.write_text(key.pem)
    path = tmp_path / "log.json"
    script = f"""
import os, sys
import kuzet.evidence as ev
key = ev.load_private_key({str(key_file)!r})
log = ev.EvidenceLog({str(path)!r}, private_key=key, log_id="cam", target_duration_s=0.0)
records = ev.segment_file({str(data_dir / HAMILTON)!r}, target_duration_s=0.0).records
for i, r in enumerate(records):
    log.append(r)
    if i == 3:
        os.kill(os.getpid(), 9)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()
    checkpoint = ev.load_manifest(path)
    assert checkpoint.tree_head.tree_size == 4
    assert key.public_key.verify(checkpoint.tree_head.signed_bytes(), checkpoint.signature.value)


def test_resume_checks_signer_and_tree(data_dir: Path, key, tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=0.0).records
    log = ev.EvidenceLog(path, private_key=key, log_id="cam", target_duration_s=0.0)
    for r in records[:2]:
        log.append(r)
    with pytest.raises(ev.EvidenceError, match="already exists"):
        ev.EvidenceLog(path, private_key=key, log_id="cam")
    with pytest.raises(ev.EvidenceError, match="not signed by this key"):
        ev.EvidenceLog.resume(path, private_key=ev.generate_keypair())
    resumed = ev.EvidenceLog.resume(path, private_key=key)
    old_head = resumed.manifest.tree_head
    for r in records[2:]:
        resumed.append(r)
    assert resumed.tree_size == len(records)
    assert ev.verify_consistency(old_head, resumed.manifest.tree_head, resumed.consistency_proof(2))
    assert ev.verify(data_dir / HAMILTON, manifest=path, public_keys=[key.public_key]).ok


def test_checkpoints_from_kept_record_texts_are_the_manifest_s_own_text(data_dir: Path, key, tmp_path: Path):
    """A live log serialises each record once and keeps its text: every checkpoint file is byte for byte what
    Manifest.dumps writes from scratch, also after resuming (metadata with quotes and newlines included)."""
    path = tmp_path / "log.json"
    log = ev.EvidenceLog(path, private_key=key, log_id="cam", target_duration_s=0.0, metadata={"note": 'a "b"\n'})
    records = ev.segment_file(data_dir / HAMILTON, target_duration_s=0.0).records
    for n, record in enumerate(records[:3]):
        log.append(record, {"n": str(n)})
        assert path.read_text() == log.manifest.dumps()
    resumed = ev.EvidenceLog.resume(path, private_key=key)
    for record in records[3:]:
        resumed.append(record)
        assert path.read_text() == resumed.manifest.dumps()
    assert ev.verify(data_dir / HAMILTON, manifest=path, public_keys=[key.public_key]).ok
