"""Opening, reading, seeking, failing and closing readers many times does not leak memory."""

from __future__ import annotations

import gc
import io
import os
from pathlib import Path

import pytest

import kuzet
from decode_helpers import open_reader


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cycle(clip: bytes, missing: Path) -> None:
    with open_reader(clip) as reader:
        for _ in reader:
            pass
    with open_reader(io.BytesIO(clip), layout="rgb_planar") as reader:
        reader.get_frames([5, 1, 30])
    reader = open_reader(clip, buffer="drop_oldest", buffer_size=2)
    reader.read()
    reader.close()  # closed while the decode thread is still running
    with pytest.raises(kuzet.SourceNotFound):
        open_reader(missing)
    with pytest.raises(kuzet.NotAVideo):
        open_reader(b"not a video" * 100)


@pytest.mark.timeout(120)
def test_no_leak_over_many_readers(data_dir: Path, tmp_path: Path) -> None:
    clip = (data_dir / "faces/video/intel_asl_thanks.mkv").read_bytes()  # 51 frames 640x480
    for _ in range(10):  # warm-up: allocator and codec pools settle
        _cycle(clip, tmp_path / "missing.mp4")
    gc.collect()
    before = _rss_mb()
    for _ in range(60):
        _cycle(clip, tmp_path / "missing.mp4")
    gc.collect()
    growth = _rss_mb() - before
    # 60 cycles decode ~6000 frames (~5 GB of output); a leak of even one frame per cycle would show.
    assert growth < 24, f"resident memory grew by {growth:.1f} MB over 60 open/read/close cycles"
