"""`kuzet enrol` and `kuzet analyze --faces` on real photos and a real clip."""

from __future__ import annotations

import json
from pathlib import Path

from kuzet.cli import main


def test_enrol_then_identify_in_video(data_dir: Path, model_dir: Path, tmp_path: Path, capsys):
    photos = data_dir / "faces/images/face_recognition"
    watchlist = tmp_path / "watchlist.db"
    md = ["--model-dir", str(model_dir)]
    assert main(["enrol", str(watchlist), "Lin-Manuel Miranda", str(photos / "lin-manuel-miranda.png"), *md]) == 0
    assert main(["enrol", str(watchlist), "Barack Obama", str(photos / "obama.jpg"), str(photos / "obama2.jpg"),
                 *md]) == 0
    assert "enrolled 2 face(s) of 'Barack Obama'" in capsys.readouterr().out

    out = tmp_path / "faces.jsonl"
    clip = data_dir / "faces/video/short_hamilton_clip.mp4"
    assert main(["analyze", str(clip), "--faces", "--watchlist", str(watchlist), "--every", "10", "--out", str(out),
                 "--quiet", *md]) == 0
    summary = capsys.readouterr().out
    assert "Lin-Manuel Miranda       in short_hamilton_clip.mp4" in summary
    faces = [json.loads(line) for line in out.read_text().splitlines()]
    faces = [e for e in faces if e["kind"] == "face"]
    named = {e["identity"] for e in faces if e["identity"]}
    assert named == {"Lin-Manuel Miranda"}  # never Obama: he is not in the clip
    assert all(e["similarity"] >= 0.43 for e in faces if e["identity"])
    assert sum(1 for e in faces if e["identity"]) >= 3


def test_enrol_refuses_an_image_without_a_face(data_dir: Path, model_dir: Path, tmp_path: Path, capsys):
    no_face = data_dir / "plates/images/yolov4_custom_functions/car4.jpg"
    rc = main(["enrol", str(tmp_path / "w.db"), "Nobody", str(no_face), "--model-dir", str(model_dir)])
    assert rc == 1
    assert "no face found" in capsys.readouterr().err


def test_enrol_reports_an_unreadable_image(model_dir: Path, tmp_path: Path, capsys):
    bogus = tmp_path / "photo.jpg"
    bogus.write_bytes(b"not a jpeg at all" * 50)
    assert main(["enrol", str(tmp_path / "w.db"), "X", str(bogus), "--model-dir", str(model_dir)]) == 1
    assert "photo.jpg" in capsys.readouterr().err
