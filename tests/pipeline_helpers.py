"""Shared by the pipeline tests: a minimal task that counts the frames reaching analysis, and a local TCP
'camera' for live sources."""

from __future__ import annotations

import socket
import threading

from kuzet.pipeline import FrameItem


class CountingTask:
    name = "count"

    def __init__(self) -> None:
        self.frames = 0

    def start_source(self, source: str, url: str) -> None:
        pass

    def process(self, items: list[FrameItem]) -> list[list[dict]]:
        self.frames += len(items)
        return [[] for _ in items]

    def finish_source(self, source: str) -> list[dict]:
        return []


def serve_tcp_camera(payloads: list[bytes]) -> tuple[str, threading.Thread]:
    """A 'camera' that streams payloads[i] to its i-th client, then goes offline."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(20)

    def serve() -> None:
        with sock:
            for payload in payloads:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"tcp://127.0.0.1:{sock.getsockname()[1]}", thread
