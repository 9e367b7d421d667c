"""A one-line progress display for long runs: frames, frame rate and each source's state."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from kuzet.pipeline import Metrics


class Progress(threading.Thread):
    """Redraws a status line on a terminal every `interval` s; on a pipe or file, writes a line every
    `pipe_interval` s instead, so logs stay readable."""

    def __init__(self, metrics: Metrics, *, stream: TextIO = sys.stderr, interval: float = 0.5,
                 pipe_interval: float = 10.0):
        super().__init__(name="kuzet-progress", daemon=True)
        self.metrics = metrics
        self.stream = stream
        self.tty = stream.isatty()
        self.interval = interval if self.tty else pipe_interval
        self._done = threading.Event()

    def line(self) -> str:
        snap = self.metrics.snapshot()
        sources = snap["sources"]
        assert isinstance(sources, dict)
        decoded = sum(s["decoded"] for s in sources.values())
        analysed = sum(s["analysed"] for s in sources.values())
        elapsed = max(1e-9, float(snap["uptime_seconds"]))  # type: ignore[arg-type]
        states = " ".join(f"{name}:{s['state']}" for name, s in sources.items())
        return f"frames {decoded} decoded, {analysed} analysed | {decoded / elapsed:.1f} fps | {states}"

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self._write(self.line())

    def _write(self, text: str) -> None:
        if self.tty:
            width = 160
            self.stream.write("\r" + text[:width].ljust(width))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self._done.set()
        self.join(5)
        self._write(self.line())
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
