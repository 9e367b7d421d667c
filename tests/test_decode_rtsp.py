"""RTSP cameras: a local server (tests/rtsp_server.py) replays FFmpeg's own RTP packets of an H.264 clip in
real time, interleaved on the RTSP connection; the reader decodes it, times out on a stall, reconnects after a
drop, and the pipeline counts every frame."""

from __future__ import annotations

import time

import numpy as np
import pytest

import kuzet
from decode_helpers import open_reader
from kuzet.pipeline import Pipeline
from pipeline_helpers import CountingTask
from rtsp_server import RtpCapture, RtspCamera, Session, capture_h264_rtp

FPS = 25
SECONDS = 3
FRAMES = FPS * SECONDS  # every frame arrives: RTP over TCP loses nothing


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> RtpCapture:
    return capture_h264_rtp(tmp_path_factory.mktemp("rtsp"), seconds=SECONDS, size="320x240", rate=FPS)


def _assert_testsrc2_frame(data: np.ndarray) -> None:
    """testsrc2 is colourful: many distinct colours, all three channels spread out."""
    assert data.shape == (240, 320, 3) and data.dtype == np.uint8
    assert all(data[..., c].std() > 40 for c in range(3))
    assert len(np.unique(data.reshape(-1, 3) // 16, axis=0)) > 20


@pytest.mark.timeout(30)
@pytest.mark.parametrize("transport", ["default", "tcp"])
def test_rtsp_camera_decodes_every_frame(capture: RtpCapture, transport: str) -> None:
    options = {} if transport == "default" else {"rtsp_transport": "tcp"}
    with RtspCamera(capture) as camera:
        with open_reader(camera.url, timeout=5, options=options) as reader:
            meta = reader.metadata
            frames = list(reader)
            stats = reader.stats
    if transport == "default":  # UDP is asked for first; the 461 reply makes the client fall back to TCP
        assert "RTP/AVP/TCP" not in camera.transports[0] and "RTP/AVP/TCP" in camera.transports[-1]
    else:
        assert len(camera.transports) == 1 and "RTP/AVP/TCP" in camera.transports[0]
    assert (meta.container, meta.codec, meta.width, meta.height) == ("rtsp", "h264", 320, 240)
    assert meta.frame_rate == FPS
    assert len(frames) == FRAMES and stats.decoded == FRAMES and stats.corrupt == 0
    assert [f.index for f in frames] == list(range(FRAMES))
    # Display order, one frame period apart (the RTP timestamps of a 25 fps clip, B-frames reordered).
    steps = np.diff([f.pts for f in frames])
    np.testing.assert_allclose(steps, 1 / FPS, atol=1e-3)
    assert frames[0].key_frame and frames[FPS].key_frame  # -g 25: an IDR every second
    for f in frames[:: FPS // 2]:
        _assert_testsrc2_frame(f.data)
    assert not np.array_equal(frames[0].data, frames[-1].data)  # it moves


@pytest.mark.timeout(30)
def test_rtsp_wrong_path_is_not_found(capture: RtpCapture) -> None:
    with RtspCamera(capture) as camera:
        with pytest.raises(kuzet.SourceNotFound, match="/nocam"):
            open_reader(camera.url.replace("/cam", "/nocam"), timeout=5)


@pytest.mark.timeout(30)
def test_rtsp_stall_raises_stream_timeout(capture: RtpCapture) -> None:
    timeout, sent = 2.0, 1.0
    with RtspCamera(capture, (Session(stop_after=sent, then="hold"),)) as camera:
        frames = 0
        start = time.monotonic()
        with pytest.raises(kuzet.StreamTimeout, match=r"rtsp://127\.0\.0\.1.*no data"):
            with open_reader(camera.url, timeout=timeout) as reader:
                for _ in reader:
                    frames += 1
        elapsed = time.monotonic() - start
    # The second of video sent is all handed out (the demuxer's last held-back packet included), then the
    # reader gives up one timeout after the last packet: not a hang, and not a second timeout either.
    assert frames == FPS  # the frames of the first second: none lost to the stall
    assert sent + timeout - 0.2 < elapsed < sent + timeout + 1.2


@pytest.mark.timeout(30)
def test_rtsp_camera_drop_reconnects(capture: RtpCapture) -> None:
    # First PLAY: one second, then the camera closes the connection; second PLAY: the whole clip; then the
    # camera stops listening, so once the second stream ends the retries are spent.
    sessions = (Session(stop_after=1.0, then="close"), Session())
    frames = []
    with RtspCamera(capture, sessions) as camera:
        reader = open_reader(camera.url, buffer="block", reconnect=2, reconnect_backoff=0.05, timeout=5)
        with pytest.raises(kuzet.SourceNotFound, match="127.0.0.1"):
            with reader:
                for f in reader:
                    frames.append(f)
                    stats = reader.stats  # closed readers have none: read while the frames come
    assert camera.plays == 2
    assert stats.reconnects == 1  # the third connection never opened
    assert [f.index for f in frames] == list(range(len(frames)))  # counted across the reconnection
    # The second session starts over: its timestamps go back once, where it begins.
    restarts = [i for i in range(1, len(frames)) if frames[i].pts < frames[i - 1].pts]
    assert len(restarts) == 1
    first, second = frames[: restarts[0]], frames[restarts[0] :]
    assert len(first) == FPS  # the cut falls between frames: the whole first second arrives
    assert len(second) == FRAMES  # the whole clip
    assert stats.decoded == len(frames) and stats.corrupt == 0
    # Same camera, same clip: both sessions begin with the same picture.
    np.testing.assert_array_equal(second[0].data, first[0].data)
    _assert_testsrc2_frame(second[-1].data)


@pytest.mark.timeout(30)
def test_rtsp_camera_through_the_pipeline(capture: RtpCapture) -> None:
    task = CountingTask()
    with RtspCamera(capture) as camera:
        pipeline = Pipeline([task], device="cpu", reconnect=0, read_timeout=5, live_buffer="block", every_n=3)
        events = list(pipeline.run([camera.url]))
    s = pipeline.metrics.source("cam")
    assert s.decoded == FRAMES and s.dropped == 0 and s.corrupt == 0
    assert s.decoded == s.analysed + s.sampled_out and task.frames == s.analysed == FRAMES // 3
    end = [e for e in events if e.kind == "source_end"]
    assert len(end) == 1 and end[0].data["decoded"] == FRAMES
