"""A live TCP source through the pipeline: it reconnects when the camera drops, and every frame is counted."""

from __future__ import annotations

import subprocess

import pytest

from kuzet.pipeline import Pipeline
from pipeline_helpers import CountingTask, serve_tcp_camera

FRAMES = 50


@pytest.mark.timeout(120)
def test_live_source_reconnects_and_loses_nothing_silently():
    payload = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={FRAMES / 25}",
         "-c:v", "mpeg4", "-g", "10", "-f", "mpegts", "-"], capture_output=True, check=True, timeout=60).stdout
    url, camera = serve_tcp_camera([payload] * 2)
    task = CountingTask()
    pipeline = Pipeline([task], reconnect=1, read_timeout=5, live_buffer="block", every_n=3)
    events = list(pipeline.run([url]))
    camera.join(10)
    name = url.rsplit("/", 1)[-1]
    s = pipeline.metrics.source(name)
    assert s.reconnects == 1  # the camera dropped once and the reader came back
    assert s.decoded == 2 * FRAMES  # both connections' frames arrived ("block": nothing dropped)
    assert s.dropped == 0
    assert s.decoded == s.analysed + s.sampled_out and task.frames == s.analysed
    end = [e for e in events if e.kind == "source_end"]
    assert len(end) == 1 and end[0].data["decoded"] == 2 * FRAMES
