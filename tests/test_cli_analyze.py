"""`kuzet analyze` on real clips: summary, JSON Lines, annotated frame, metrics, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from kuzet.cli import main


def test_analyze_plates_with_evidence(data_dir: Path, model_dir: Path, tmp_path: Path, capsys):
    clip = data_dir / "plates/video/license_plate_uk.mp4"
    missing = tmp_path / "camera-offline.mp4"
    out = tmp_path / "results.jsonl"
    rc = main(["analyze", str(clip), str(missing), "--plates", "--hotlist", "LS15EBC,AB12CDE", "--formats", "uk",
               "--every", "4", "--model-dir", str(model_dir), "--evidence", str(tmp_path / "ev"),
               "--annotate", str(tmp_path / "frames"), "--out", str(out), "--metrics", str(tmp_path / "m.prom"),
               "--quiet"])
    assert rc == 1  # one source failed, the other was analysed
    text = capsys.readouterr().out
    assert "LS15EBC    in license_plate_uk.mp4" in text and "HOTLIST LS15EBC (distance 0)" in text
    assert "camera-offline.mp4: " in text and "no such file" in text
    assert "license_plate_uk.mp4: root " in text
    events = [json.loads(line) for line in out.read_text().splitlines()]
    plates = [e for e in events if e["kind"] == "plate" and e["text"] == "LS15EBC"]
    assert len(plates) == 1 and plates[0]["evidence"]["segment"] == 0
    ends = {e["source"]: e for e in events if e["kind"] == "source_end"}
    assert ends["license_plate_uk.mp4"]["decoded"] == 140 and ends["license_plate_uk.mp4"]["analysed"] == 35
    assert ends["camera-offline.mp4"]["state"] == "failed"
    assert ends["license_plate_uk.mp4"]["decoder"] == "cpu" and ends["license_plate_uk.mp4"]["gpu_frames"] is False
    assert ends["camera-offline.mp4"]["decoder"] is None  # it never opened
    (frame,) = (tmp_path / "frames").glob("license_plate_uk.mp4.frame*.png")
    image = np.asarray(Image.open(frame))
    assert image.shape == (720, 1280, 3)
    assert (tmp_path / "ev" / "signing.key").exists() and (tmp_path / "ev" / "signing.pub").exists()
    assert "kuzet_source_frames_analysed_total" in (tmp_path / "m.prom").read_text()
    # the sealed recording verifies with the generated public key
    manifest = tmp_path / "ev" / "license_plate_uk.mp4.manifest.json"
    assert main(["verify", str(clip), "--manifest", str(manifest), "--key", str(tmp_path / "ev/signing.pub")]) == 0


def test_analyze_usage_errors(tmp_path: Path, capsys):
    assert main(["analyze", "x.mp4", "--evidence", str(tmp_path), "--key", str(tmp_path / "nokey.pem")]) == 2
    assert "nokey.pem" in capsys.readouterr().err


def test_analyze_records_a_live_camera_and_ends_with_it(data_dir: Path, model_dir: Path, tmp_path: Path, capsys):
    """A TCP camera streaming the street clip: with --reconnect 0 the source finishes when the camera stops,
    its recording is sealed while analysed, and `kuzet verify` accepts it."""
    import subprocess

    from pipeline_helpers import serve_tcp_camera

    ts = subprocess.run(["ffmpeg", "-v", "error", "-i", str(data_dir / "plates/video/license_plate_uk.mp4"), "-an",
                         "-c", "copy", "-f", "mpegts", "-"], check=True, capture_output=True).stdout
    url, camera = serve_tcp_camera([ts])
    out = tmp_path / "live.jsonl"
    rc = main(["analyze", url, "--plates", "--formats", "uk", "--reconnect", "0", "--model-dir", str(model_dir),
               "--evidence", str(tmp_path / "ev"), "--out", str(out), "--quiet"])
    camera.join(10)
    assert rc == 0
    assert "LS15EBC" in capsys.readouterr().out
    events = [json.loads(line) for line in out.read_text().splitlines()]
    (end,) = [e for e in events if e["kind"] == "source_end"]
    # The test camera sends faster than real time: a live source drops the oldest frames it cannot keep up
    # with, and counts them.
    assert end["state"] == "finished" and end["decoded"] + end["dropped"] == 140, end
    (recording,) = (tmp_path / "ev").glob("*.0.ts")
    manifest = recording.with_name(recording.name.replace(".ts", ".manifest.json"))
    assert main(["verify", str(recording), "--manifest", str(manifest), "--key", str(tmp_path / "ev/signing.pub")]) == 0


def test_analyze_exits_1_when_the_analysis_itself_fails(data_dir: Path, model_dir: Path, tmp_path: Path, capsys,
                                                        monkeypatch):
    from kuzet.pipeline.builtin_tasks import PlateTask

    def broken(self: PlateTask, items: list) -> list:
        raise RuntimeError("recogniser session lost")

    monkeypatch.setattr(PlateTask, "process", broken)
    out = tmp_path / "results.jsonl"
    rc = main(["analyze", str(data_dir / "plates/video/license_plate_uk.mp4"), "--plates", "--model-dir",
               str(model_dir), "--out", str(out), "--quiet"])
    assert rc == 1
    assert "analysis failed (RuntimeError: recogniser session lost)" in capsys.readouterr().err
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["kind"] for e in events] == ["source_error", "source_end"]
    assert events[1]["state"] == "failed" and "recogniser session lost" in events[1]["error"]
