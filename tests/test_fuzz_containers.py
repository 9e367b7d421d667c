"""Mutation fuzzing of the untrusted-input parsers: damaged containers and bitstreams, made from small real
files by flipping bytes, cutting, duplicating and splicing, go through the decoder (from bytes) and the
evidence segmenter. Each must decode, or fail with a kuzet error naming the problem: never a crash, a hang or
another exception type. Deterministic (seeded) so a failure reproduces; CI also runs it under ASan/UBSan."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import kuzet
from kuzet.evidence import EvidenceError, segment_file

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
CASES_PER_SEED = 12


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "cut", "dup", "zero", "splice"))
        if not buf:
            break
        i = rng.randrange(len(buf))
        if op == "flip":
            for _ in range(rng.randint(1, 8)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif op == "cut":
            del buf[i:]
        elif op == "dup":
            j = min(len(buf), i + rng.randint(1, 256))
            buf[i:i] = buf[i:j]
        elif op == "zero":
            buf[i : i + rng.randint(1, 64)] = bytes(min(len(buf) - i, 64))[: rng.randint(1, 64)]
        else:
            buf[i : i + 16] = rng.randbytes(16)
    return bytes(buf)


def _decode_all(data: bytes, errors: str) -> int:
    with kuzet.VideoReader(data, device="cpu", errors=errors, timeout=5) as reader:  # type: ignore[arg-type]
        return sum(1 for _ in reader)


@pytest.mark.timeout(240)
@pytest.mark.parametrize("seed_file", SEEDS)
def test_damaged_inputs_fail_cleanly(data_dir: Path, tmp_path: Path, seed_file: str):
    original = (data_dir / seed_file).read_bytes()
    rng = random.Random(seed_file)
    outcomes = {"decoded": 0, "refused": 0}
    for case in range(CASES_PER_SEED):
        data = mutate(original, rng)
        for errors in ("skip", "raise"):
            try:
                _decode_all(data, errors)
                outcomes["decoded"] += 1
            except kuzet.DecodeError as exc:
                assert str(exc), f"{seed_file} case {case}: empty error message"
                outcomes["refused"] += 1
        path = tmp_path / f"case{case}{Path(seed_file).suffix}"
        path.write_bytes(data)
        try:
            result = segment_file(path)
            assert result.error is None or isinstance(result.error, str)
        except EvidenceError as exc:
            assert str(exc)
    assert sum(outcomes.values()) == 2 * CASES_PER_SEED


def test_unmutated_seeds_decode(data_dir: Path):
    # the seeds themselves are valid media (except the HEVC black frame's missing reference, which FFmpeg
    # conceals), so the mutations above start from files that really decode
    for seed_file in SEEDS:
        assert _decode_all((data_dir / seed_file).read_bytes(), "skip") >= 1, seed_file
