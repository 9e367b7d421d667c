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
