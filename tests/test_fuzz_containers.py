"""Mutation fuzzing of the untrusted-input parsers: damaged containers and bitstreams, made from small real
files by flipping bytes, cutting, duplicating and splicing, go through the decoder (from bytes and from a file,
sequential reading and exact seeking) and the evidence segmenter. Each must decode, or fail with a kuzet error
naming the problem: never a crash, a hang or another exception type. Deterministic (seeded) so a failure
reproduces; CI also runs it under ASan/UBSan. Drives fuzz/fuzz_containers.py's mutate() and check_one(), the
harness of the longer campaigns."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

import kuzet

_spec = importlib.util.spec_from_file_location(
    "fuzz_containers", Path(__file__).parent.parent / "fuzz/fuzz_containers.py"
)
assert _spec and _spec.loader
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

SEEDS = [
    "conformance/mp4ff/blackframe.264",
    "conformance/mp4ff/blackframe.265",
    "conformance/debian/afl_small_movie_48x144.mp4",
    "conformance/debian/traitsui_test_2frames_1fps.mp4",
    "conformance/sage/example.avi",
    "conformance/sage/example.flv",
    "conformance/sage/example.mkv",
    "conformance/sage/example.webm",
    "conformance/mp4ff/vp9.ivf",
    "conformance/mp4ff/av1.ivf",
]
CASES_PER_SEED = 30


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed_file", SEEDS)
def test_damaged_inputs_fail_cleanly(data_dir: Path, tmp_path: Path, seed_file: str):
    original = (data_dir / seed_file).read_bytes()
    rng = random.Random(seed_file)
    outcomes = {"decoded": 0, "refused": 0}
    for case in range(CASES_PER_SEED):
        data = harness.mutate(original, rng)
        for outcome, count in harness.check_one(data, tmp_path / f"case{case}{Path(seed_file).suffix}", rng).items():
            outcomes[outcome] += count
    # each of the three decoding runs of every case decoded or was refused with a message (check_one
    # raises for anything else)
    assert sum(outcomes.values()) == 3 * CASES_PER_SEED


def test_unmutated_seeds_decode(data_dir: Path):
    # the seeds themselves are valid media (except the HEVC black frame's missing reference, which FFmpeg
    # conceals), so the mutations above start from files that really decode
    for seed_file in SEEDS:
        with kuzet.VideoReader((data_dir / seed_file).read_bytes(), device="cpu", errors="skip") as reader:
            assert sum(1 for _ in reader) >= 1, seed_file


def test_campaign_seeds_are_found(data_dir: Path):
    # the campaign's seed set: every small media file of the conformance folder, the test's seeds among them
    seeds = {p.relative_to(data_dir).as_posix() for p in harness.find_seeds(data_dir)}
    assert set(SEEDS) <= seeds
