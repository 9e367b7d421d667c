"""Live sources against local servers only (127.0.0.1): an ffmpeg TCP feed, a server that stalls
(StreamTimeout instead of a hang) and one that closes (reconnect with backoff); bounded buffering."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import kuzet
from decode_helpers import open_reader

FRAMES_IN_CLIP = 50


@pytest.fixture(scope="module")
def mpegts_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """50 frames of MPEG-4 video in MPEG-TS, generated once (a live-style stream with no index)."""
    out = tmp_path_factory.mktemp("live") / "clip.ts"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=160x120:rate=25:duration={FRAMES_IN_CLIP / 25}",
            "-c:v",
            "mpeg4",
            "-g",
            "10",
            "-f",
            "mpegts",
            str(out),
        ],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    """Serves `payload` to each of `connections` clients; after `stall_after` bytes it stops sending
    (keeping the socket open) until the server is stopped."""

    def __init__(self, payload: bytes, *, connections: int = 1, stall_after: int | None = None) -> None:
        self.payload = payload
        self.stall_after = stall_after
        self.served = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.url = f"tcp://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, args=(connections,), daemon=True)
        self._thread.start()

    def _serve(self, connections: int) -> None:
        held: list[socket.socket] = []
        while self.served < connections and not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            data = self.payload if self.stall_after is None else self.payload[: self.stall_after]
            try:
                conn.sendall(data)
            except OSError:
                pass
            self.served += 1
            if self.stall_after is None:
                conn.close()
            else:
                held.append(conn)  # stalled: open, but nothing more is sent
        self._sock.close()  # later connections are refused
        self._stop.wait(30)
        for conn in held:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def server_factory() -> Iterator[type[_Server]]:
    started: list[_Server] = []

    class Tracked(_Server):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for s in started:
        s.stop()


@pytest.mark.timeout(60)
def test_ffmpeg_tcp_feed_live(tmp_path: Path) -> None:
    port = _free_port()
    feed = subprocess.Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-t",
            "20",
            "-c:v",
            "mpeg4",
            "-g",
            "12",
            "-f",
            "mpegts",
            f"tcp://127.0.0.1:{port}?listen=1",
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        # The feed may not listen yet: the reader's connect retries with backoff cover that.
        with open_reader(
            f"tcp://127.0.0.1:{port}",
            buffer="drop_oldest",
            buffer_size=4,
            reconnect=20,
            reconnect_backoff=0.1,
            timeout=5,
        ) as reader:
            assert reader.live and reader.metadata.codec == "mpeg4"
            frames = [f for f, _ in zip(reader, range(30), strict=False)]
            stats = reader.stats
        assert len(frames) == 30
        assert all(f.data.shape == (240, 320, 3) for f in frames)
        assert [f.index for f in frames] == sorted({f.index for f in frames})  # increasing, drops allowed
        assert all(b.pts > a.pts for a, b in zip(frames, frames[1:], strict=False))
        assert stats.decoded >= 30
    finally:
        feed.kill()
        feed.wait(10)


@pytest.mark.timeout(30)
def test_stalled_stream_times_out(mpegts_clip: bytes, server_factory: type[_Server]) -> None:
    server = server_factory(mpegts_clip, stall_after=len(mpegts_clip) * 6 // 10)
    start = time.monotonic()
    frames = 0
    with pytest.raises(kuzet.StreamTimeout, match=r"127\.0\.0\.1.*no data"):
        with open_reader(server.url, timeout=1.0) as reader:
            for _ in reader:
                frames += 1
    assert 0 < frames < FRAMES_IN_CLIP
    assert time.monotonic() - start < 10


@pytest.mark.timeout(30)
def test_stalled_live_stream_reconnects(mpegts_clip: bytes, server_factory: type[_Server]) -> None:
    server = server_factory(mpegts_clip, connections=2, stall_after=len(mpegts_clip) * 6 // 10)
    frames = []
    reader = open_reader(server.url, buffer="block", reconnect=1, reconnect_backoff=0.05, timeout=1.0)
    with pytest.raises(kuzet.SourceNotFound):  # after two stalls the server is gone: retries spent
        with reader:
            for f in reader:
                frames.append(f)
                if len(frames) == FRAMES_IN_CLIP // 4:
                    reconnects_while_reading = reader.stats.reconnects
    assert reconnects_while_reading == 0
    assert server.served == 2
    per_connection = len(frames) / 2
    assert FRAMES_IN_CLIP // 4 < per_connection < FRAMES_IN_CLIP  # part of the clip, twice
    np.testing.assert_array_equal(frames[int(per_connection)].data, frames[0].data)


@pytest.mark.timeout(30)
def test_closed_stream_reconnects_with_backoff(mpegts_clip: bytes, server_factory: type[_Server]) -> None:
    server = server_factory(mpegts_clip, connections=2)
    frames = []
    with pytest.raises(kuzet.SourceNotFound, match="127.0.0.1"):  # third connection: refused, retries spent
        with open_reader(
            server.url, buffer="block", reconnect=2, reconnect_backoff=0.05, timeout=5
        ) as reader:
            for f in reader:
                frames.append(f)
    assert server.served == 2
    assert len(frames) == 2 * FRAMES_IN_CLIP  # "block": nothing dropped
    assert [f.index for f in frames] == list(range(2 * FRAMES_IN_CLIP))
    # The second connection replays the clip: same pixels as the first.
    np.testing.assert_array_equal(frames[FRAMES_IN_CLIP].data, frames[0].data)


@pytest.mark.timeout(30)
def test_reconnect_counter(mpegts_clip: bytes, server_factory: type[_Server]) -> None:
    server = server_factory(mpegts_clip, connections=3)
    reader = open_reader(server.url, buffer="block", reconnect=1, reconnect_backoff=0.05, timeout=5)
    with reader:
        got = 0
        while got < 2 * FRAMES_IN_CLIP + 5:
            assert reader.read() is not None
            got += 1
        assert reader.stats.reconnects == 2


def test_drop_oldest_bounds_the_queue(data_dir: Path) -> None:
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with open_reader(path, buffer="drop_oldest", buffer_size=3) as reader:
        deadline = time.monotonic() + 10
        while reader.stats.decoded < 120 and time.monotonic() < deadline:
            time.sleep(0.01)  # a slow consumer
        frames = list(reader)
        stats = reader.stats
    assert stats.decoded == 120
    assert len(frames) == 3 and stats.dropped == 117
    assert [f.index for f in frames] == [117, 118, 119]  # the newest survive


def test_block_keeps_every_frame_and_closes_promptly(data_dir: Path) -> None:
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with open_reader(path, buffer="block", buffer_size=2) as reader:
        frames = list(reader)
        assert reader.stats.dropped == 0
    assert [f.index for f in frames] == list(range(120))
    reader = open_reader(path, buffer="block", buffer_size=1)
    reader.read()
    start = time.monotonic()
    reader.close()  # the decode thread is blocked on the full queue: closing must not hang
    assert time.monotonic() - start < 2
    with pytest.raises(kuzet.DecodeError, match="sequentially"):
        open_reader(path, buffer="block").get_frames([0])


@pytest.mark.timeout(30)
def test_http_source(mpegts_clip: bytes, tmp_path: Path) -> None:
    import functools
    import http.server

    (tmp_path / "clip.ts").write_bytes(mpegts_clip)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.ts"
        with open_reader(url, timeout=5) as reader:
            frames = list(reader)
        assert len(frames) == FRAMES_IN_CLIP
        with pytest.raises(kuzet.SourceNotFound, match="missing.ts"):
            open_reader(url.replace("clip.ts", "missing.ts"), timeout=5)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.timeout(30)
def test_reconnect_n_makes_n_attempts_an_outage(mpegts_clip: bytes) -> None:
    """reconnect=2: the stream once, then two attempts to reconnect (each accepted and hung up at once)."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(10)
    accepted = []

    def serve() -> None:
        with sock:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                with conn:
                    if not accepted:
                        conn.sendall(mpegts_clip)
                    accepted.append(time.monotonic())

    threading.Thread(target=serve, daemon=True).start()
    url = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    frames = []
    with pytest.raises(kuzet.DecodeError):  # the retries are spent
        with open_reader(url, buffer="block", reconnect=2, reconnect_backoff=0.05, timeout=3) as reader:
            frames.extend(f.index for f in reader)
    assert len(frames) == FRAMES_IN_CLIP
    time.sleep(0.5)  # no further attempt comes later
    assert len(accepted) == 1 + 2
    sock.close()
    with pytest.raises(kuzet.DecodeError, match=r"127\.0\.0\.1.*: the reader is closed"):
        reader.read()
