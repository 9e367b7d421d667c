"""A live TCP source through the pipeline: it reconnects when the camera drops, and every frame is counted."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from kuzet.pipeline import Pipeline
from pipeline_helpers import CountingTask

FRAMES = 50


def _camera(payload: bytes, connections: int) -> tuple[str, threading.Thread]:
    """A 'camera' that streams the same MPEG-TS clip to each of `connections` clients, then goes offline."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(20)

    def serve() -> None:
        with sock:
            for _ in range(connections):
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"tcp://127.0.0.1:{sock.getsockname()[1]}", thread


@pytest.mark.timeout(120)
def test_live_source_reconnects_and_loses_nothing_silently():
    payload = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={FRAMES / 25}",
         "-c:v", "mpeg4", "-g", "10", "-f", "mpegts", "-"], capture_output=True, check=True, timeout=60).stdout
    url, camera = _camera(payload, connections=2)
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
