"""`kuzet bench` runs its measurements and prints each beside its same-run baseline (no timing asserted)."""

from __future__ import annotations

import re

from kuzet.cli import main


def test_bench_prints_ratios_against_baselines(capsys):
    assert main(["bench", "--seconds", "1", "--no-models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["measure", "kuzet"]
    rows = {line.split("  ")[0]: line for line in out[1:]}
    assert set(rows) == {"decode 1080p H.264, raw YUV", "decode 1080p H.264, RGB numpy", "evidence: segment + SHA-256"}
    assert all(re.search(r"ffmpeg -f null \d+ fps", rows[k]) for k in rows if k.startswith("decode"))
    assert re.search(r"\d+ cameras$", rows["evidence: segment + SHA-256"])


def test_bench_refuses_bad_arguments_and_missing_models_in_one_line(tmp_path, capsys):
    assert main(["bench", "--seconds", "0"]) == 2
    assert main(["bench", "--sources", "0", "-1"]) == 2
    assert "whole numbers >= 1" in capsys.readouterr().err
    assert main(["bench", "--seconds", "1", "--model-dir", str(tmp_path)]) == 1  # before any measurement
    err = capsys.readouterr().err
    assert err.startswith("kuzet bench: model ") and "not found" in err and "Traceback" not in err
