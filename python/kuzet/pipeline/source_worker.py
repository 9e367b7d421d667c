"""One thread per source: decode, sample, and hand frames to the batcher; a failing source stops alone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kuzet.errors import InvalidArgument
from kuzet.pipeline.batcher import DynamicBatcher
from kuzet.pipeline.events import FrameItem
from kuzet.pipeline.metrics import Metrics
from kuzet.video import without_credentials


@dataclass(frozen=True)
class Sampling:
    """Keep every Nth frame, or about `fps` frames per second of stream time (by pts), or both."""

    every_n: int = 1
    fps: float | None = None

    def __post_init__(self) -> None:
        if self.every_n < 1:
            raise InvalidArgument(f"every_n must be >= 1, got {self.every_n}")
        if self.fps is not None and self.fps <= 0:
            raise InvalidArgument(f"fps must be > 0, got {self.fps}")


class _Sampler:
    """The rule of kuzet's native readers (src/cpp/decode/frame_sampler.hpp), for other frame sources."""

    def __init__(self, sampling: Sampling):
        self.sampling = sampling
        self.next_pts: float | None = None
        self.last_pts = 0.0

    def keep(self, index: int, pts: float) -> bool:
        if index % self.sampling.every_n:
            return False
        if self.sampling.fps is None:
            return True
        period = 1.0 / self.sampling.fps
        due = self.next_pts
        went_back = due is not None and pts < self.last_pts
        self.last_pts = pts
        if due is not None and not went_back:
            if pts < due - 1e-6:
                return False
            # on schedule: the next frame is due one period later; after a jump ahead, one period from here
            self.next_pts = due + period if pts < due + period else pts + period
        else:  # the first frame, or time went back (a reconnection): the schedule restarts here
            self.next_pts = pts + period
        return True


# A frame source yields (index, pts, image) and exposes its counters; the default opens a kuzet.VideoReader.
FrameIterable = Iterable[Any]
OpenSource = Callable[[str], Any]


class SourceWorker(threading.Thread):
    def __init__(self, name: str, url: str, open_source: OpenSource, batcher: DynamicBatcher[FrameItem],
                 metrics: Metrics, sampling: Sampling, on_error: Callable[[str, BaseException], None], *,
                 reader_samples: bool = False):
        """`reader_samples`: the reader applies `sampling` itself (kuzet.VideoReader(every_n=, sample_fps=)),
        handing out only the frames kept and counting the others in its stats.sampled_out."""
        super().__init__(name=f"kuzet-source-{name}", daemon=True)
        self.source_name = name
        self.url = url
        self.open_source = open_source
        self.batcher = batcher
        self.metrics = metrics
        self.sampler = _Sampler(sampling)
        self.reader_samples = reader_samples
        self._reader_sampled_out = 0  # the reader's stats.sampled_out already counted in the metrics
        self.on_error = on_error
        self.stop_event = threading.Event()
        # Set once the worker has queued its last frame (unlike `not is_alive()`, never true before start()).
        self.ended = threading.Event()
        self.reader: Any = None

    def run(self) -> None:
        name = self.source_name
        self.metrics.update_source(name, state="running")
        try:
            self.reader = self.open_source(self.url)
            if self.stop_event.is_set():  # stop() came while the source was opening: it had no reader to close
                self.reader.close()
                self.metrics.update_source(name, state="stopped")
                return
            self.metrics.update_source(name, decoder=getattr(self.reader, "device", None),
                                       gpu_frames=bool(getattr(self.reader, "gpu_frames", False)))
            try:
                state = self._feed(self.reader)
            finally:
                self._record_reader_counters(self.reader)  # before close: a closed reader has no counters
                self.reader.close()
            self.metrics.update_source(name, state="stopped" if self.stop_event.is_set() else state)
        except Exception as exc:  # any failure of this source is reported and stops this source only
            if self.stop_event.is_set():  # stop() closed the reader under a blocked read: not a failure
                self.metrics.update_source(name, state="stopped")
                return
            message = str(exc).replace(self.url, without_credentials(self.url))
            self.metrics.update_source(name, state="failed", error=f"{type(exc).__name__}: {message}")
            self.on_error(name, exc)
        finally:
            self.batcher.close_source(name)
            self.ended.set()

    def _feed(self, reader: Any) -> str:
        """Decode, sample and queue every frame; returns the source's final state."""
        name = self.source_name
        for frame in reader:
            if self.stop_event.is_set():
                return "stopped"
            self._record_reader_counters(reader)  # live: dropped, reconnects as they happen
            self.metrics.add(name, decoded=1)
            self.metrics.update_source(name, last_pts=frame.pts)
            if not self.reader_samples and not self.sampler.keep(frame.index, frame.pts):
                self.metrics.add(name, sampled_out=1)
                continue
            with self.metrics.stage("queue_wait"):
                accepted = self.batcher.put(name, FrameItem(name, frame.index, frame.pts, frame.data))
            if not accepted:
                return "stopped"
        return "finished"

    def _record_reader_counters(self, reader: Any) -> None:
        """The reader's own counters so far, read once: frames it decoded and left out since the last call
        (decoded and sampled out), and what it dropped, found corrupt and reconnected."""
        stats = getattr(reader, "stats", None)
        if stats is None:
            return
        if self.reader_samples:
            total = int(stats.sampled_out)
            new = total - self._reader_sampled_out
            if new:
                self._reader_sampled_out = total
                self.metrics.add(self.source_name, decoded=new, sampled_out=new)
        counts = {c: v for c in ("dropped", "corrupt", "reconnects") if isinstance(v := getattr(stats, c, None), int)}
        if counts:
            self.metrics.update_source(self.source_name, **counts)

    def stop(self) -> None:
        """Ends the source promptly: closing the reader from this thread cancels a read that is waiting for
        a stalled camera (the worker then sees the reader closed and ends as "stopped")."""
        self.stop_event.set()
        reader = self.reader
        if reader is not None:
            reader.close()
