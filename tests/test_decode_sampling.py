"""Sampling inside the reader (VideoReader(every_n=, sample_fps=)): the frames handed out are exactly those
the pipeline's rule keeps, with the same pixels and indices as unsampled reading; the others are decoded,
never converted, and counted in stats.sampled_out."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import kuzet
from kuzet.pipeline.source_worker import Sampling, _Sampler

UK_CLIP = "plates/video/license_plate_uk.mp4"  # 140 frames, 30 fps
PHONE_VFR = "conformance/debian/phone_vfr_VID_20191220_170832.mp4"  # variable frame rate


def all_frames(path: Path) -> list[kuzet.Frame]:
    with kuzet.VideoReader(path, device="cpu") as reader:
        return list(reader)


def expected(frames: list[kuzet.Frame], sampling: Sampling) -> list[int]:
    sampler = _Sampler(sampling)
    return [f.index for f in frames if sampler.keep(f.index, f.pts)]


@pytest.mark.parametrize("clip", [UK_CLIP, PHONE_VFR])
@pytest.mark.parametrize("every_n, fps", [(3, None), (1, 5.0), (2, 7.0), (1, 1000.0)])
def test_reader_hands_out_what_the_sampling_rule_keeps(data_dir: Path, clip: str, every_n: int,
                                                      fps: float | None) -> None:
    frames = all_frames(data_dir / clip)
    want = expected(frames, Sampling(every_n=every_n, fps=fps))
    with kuzet.VideoReader(data_dir / clip, device="cpu", every_n=every_n, sample_fps=fps) as reader:
        got = list(reader)
        stats = reader.stats
    assert [f.index for f in got] == want
    assert 0 < len(got) <= len(frames)
    assert stats.sampled_out == len(frames) - len(got)
    assert stats.decoded == len(frames)
    for f in got:  # same frame, same pixels and timestamps as unsampled reading
        ref = frames[f.index]
        assert (f.pts, f.pts_raw, f.key_frame) == (ref.pts, ref.pts_raw, ref.key_frame)
        assert np.array_equal(f.data, ref.data)


def test_fps_sampling_spaces_frames_by_stream_time(data_dir: Path) -> None:
    with kuzet.VideoReader(data_dir / UK_CLIP, device="cpu", sample_fps=5.0) as reader:
        pts = [f.pts for f in reader]
    assert 22 <= len(pts) <= 25  # 4.67 s at 5 frames per second
    gaps = np.diff(pts)
    assert gaps.min() >= 0.2 - 1 / 30 - 1e-6 and gaps.max() <= 0.2 + 1 / 30 + 1e-6


def test_live_reader_samples_before_queueing(data_dir: Path) -> None:
    frames = all_frames(data_dir / UK_CLIP)
    with kuzet.VideoReader(data_dir / UK_CLIP, device="cpu", buffer="block", buffer_size=2, every_n=4,
                           sample_fps=10.0) as reader:
        got = list(reader)
        stats = reader.stats
    assert [f.index for f in got] == expected(frames, Sampling(every_n=4, fps=10.0))
    assert stats.sampled_out == len(frames) - len(got) and stats.dropped == 0
    assert all(np.array_equal(f.data, frames[f.index].data) for f in got)


def test_random_access_is_not_sampled(data_dir: Path) -> None:
    with kuzet.VideoReader(data_dir / UK_CLIP, device="cpu", every_n=10) as reader:
        batch = reader.get_frames([1, 2, 3])
        assert list(batch.index) == [1, 2, 3]


@pytest.mark.parametrize("kwargs, message", [({"every_n": 0}, "every_n"), ({"sample_fps": 0.0}, "sample_fps"),
                                             ({"sample_fps": -1.0}, "sample_fps"),
                                             ({"sample_fps": float("nan")}, "sample_fps")])
def test_bad_sampling_is_refused(data_dir: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(kuzet.InvalidArgument, match=message):
        kuzet.VideoReader(data_dir / UK_CLIP, device="cpu", **kwargs)


def test_rule_restarts_after_time_jumps_or_goes_back() -> None:
    sampler = _Sampler(Sampling(fps=2.0))  # one frame per 0.5 s
    timeline = [0.0, 0.1, 0.5, 0.9, 1.0, 10.0, 10.1, 10.5, 0.0, 0.2, 0.5]  # a pause, then a reconnection at 0
    kept = [t for i, t in enumerate(timeline) if sampler.keep(i, t)]
    assert kept == [0.0, 0.5, 1.0, 10.0, 10.5, 0.0, 0.5]


def test_native_rule_equals_python_rule_when_time_goes_back(tmp_path: Path) -> None:
    """Two MPEG-TS recordings back to back (as a camera restarting): timestamps restart mid-stream."""
    parts = []
    for i in range(2):
        out = tmp_path / f"part{i}.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1.2",
                        "-c:v", "mpeg4", "-g", "5", "-f", "mpegts", str(out)], check=True)
        parts.append(out.read_bytes())
    joined = tmp_path / "restart.ts"
    joined.write_bytes(b"".join(parts))
    frames = all_frames(joined)
    pts = [f.pts for f in frames]
    assert any(b < a for a, b in zip(pts, pts[1:], strict=False))  # time really goes back
    want = expected(frames, Sampling(fps=4.0))
    with kuzet.VideoReader(joined, device="cpu", sample_fps=4.0) as reader:
        assert [f.index for f in reader] == want
    assert sum(1 for i in want if frames[i].pts < 0.1 + pts[0]) == 2  # the schedule restarted with the clock
