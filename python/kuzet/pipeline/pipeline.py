"""kuzet.Pipeline: many sources at once, dynamic batching across them, results as a stream of events."""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from kuzet.errors import InvalidArgument, KuzetError
from kuzet.models.parallel import cpu_workers
from kuzet.pipeline.batcher import DynamicBatcher
from kuzet.pipeline.builtin_tasks import EvidenceTask, FaceTask, PlateTask
from kuzet.pipeline.events import Event, FrameItem
from kuzet.pipeline.factory import TaskOptions, build_task
from kuzet.pipeline.metrics import Metrics
from kuzet.pipeline.readers import is_live, recording_opener, video_reader_opener
from kuzet.pipeline.source_worker import OpenSource, Sampling, SourceWorker
from kuzet.pipeline.tasks import Task
from kuzet.video import without_credentials

_DONE = object()


def frames_device(tasks: Sequence[Task]) -> str:
    """Where the pipeline's own readers put decoded frames: "cuda:N" when every task that looks at pixels is a
    built-in face or plate task doing its pixel work on that GPU (the frames then never visit the host), else
    "cpu" (a caller's own task may expect numpy frames)."""
    devices = set()
    for task in tasks:
        if isinstance(task, EvidenceTask):
            continue  # hashes the compressed stream, never the frames
        pipeline = task.faces if isinstance(task, FaceTask) else task.plates if isinstance(task, PlateTask) else None
        if pipeline is None or not pipeline.gpu_preprocessing:
            return "cpu"
        devices.add(pipeline.device)
    return devices.pop() if len(devices) == 1 else "cpu"


def source_name(url: str, taken: set[str]) -> str:
    """A short unique name for a source: its file name, made unique with a counter."""
    base = Path(url.split("?")[0].rstrip("/")).name or url
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    taken.add(name)
    return name


def _join_all(threads: Sequence[threading.Thread], timeout: float) -> list[str]:
    """Joins the threads within `timeout` seconds in all; the names of those still running."""
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


class Pipeline:
    """Runs `tasks` over many sources. Decoding runs in one thread per source (native decoding releases the
    GIL); one analysis thread takes batches filled across sources (at most `max_batch` frames, waiting at most
    `max_wait_ms` for a batch to fill) and runs every task on them. Per-source queues are bounded
    (`queue_size` frames; by default enough for two full batches across all sources, at least 2 each), so memory
    stays bounded and a slow analysis stage slows the decoders down rather than
    piling up frames. A source that fails (missing, corrupt, stalled) is reported and stops alone.

    Live sources (rtsp, rtmp, tcp, udp, srt URLs; http(s) URLs are read as files: at the pace of the analysis,
    without reconnection) decode in a native thread into a small buffer that drops the
    oldest frame when analysis falls behind (`live_buffer="drop_oldest"`, counted as dropped) or makes the
    decoder wait (`"block"`), and reconnect up to `reconnect` times with backoff; files are read at the pace
    of the analysis. Corrupt frames are skipped and counted (`corrupt_frames="skip"`) or end the source.

    `tasks` are built-in task names ("faces", "plates", "evidence", built from the keyword options) or Task
    objects. `every_n`/`fps` sample frames per source (sampled-out frames are counted, never silently lost).
    Use as `for event in pipeline.run(sources): ...`, or pass `on_event`; `on_frame(item, detections)` sees
    every analysed frame with its detections (e.g. to draw them; `item.image` is a CUDA array when
    `pipeline.frames_device` is "cuda:N": the face and plate tasks run on that GPU, and NVDEC decodes files
    into GPU memory there); `pipeline.metrics` has per-stage
    timings, per-source counters and queue depths (also as Prometheus text: `pipeline.metrics.prometheus()`).
    """

    def __init__(
        self,
        tasks: Sequence[str | Task] = ("faces", "plates"),
        *,
        device: str = "auto",
        model_dir: str | os.PathLike[str] | None = None,
        watchlist: Any = None,
        face_match_threshold: float = 0.43,
        hotlist: Any = None,
        plate_formats: Sequence[str] = (),
        evidence_dir: str | os.PathLike[str] | None = None,
        signing_key: Any = None,
        max_batch: int = 16,
        max_wait_ms: float = 50.0,
        queue_size: int | None = None,
        every_n: int = 1,
        fps: float | None = None,
        read_timeout: float = 10.0,
        live_buffer: str = "drop_oldest",
        reconnect: int = 5,
        corrupt_frames: str = "skip",
        open_source: OpenSource | None = None,
        on_event: Callable[[Event], None] | None = None,
        on_frame: Callable[[FrameItem, list[dict[str, Any]]], None] | None = None,
    ):
        if not tasks:
            raise InvalidArgument("a pipeline needs at least one task")
        options = TaskOptions(device=device, model_dir=model_dir, watchlist=watchlist,
                              face_match_threshold=face_match_threshold, hotlist=hotlist,
                              plate_formats=tuple(plate_formats), evidence_dir=evidence_dir, signing_key=signing_key)
        self.tasks: list[Task] = [build_task(t, options) if isinstance(t, str) else t for t in tasks]
        evidence = [t for t in self.tasks if isinstance(t, EvidenceTask)]
        self.evidence = evidence[0] if evidence else None
        self.segment_lookup = evidence[0].lookup if evidence else None
        if live_buffer not in ("drop_oldest", "block") or corrupt_frames not in ("skip", "raise") or reconnect < 0:
            raise InvalidArgument("live_buffer must be 'drop_oldest' or 'block', corrupt_frames 'skip' or 'raise', "
                                  "reconnect >= 0")
        self.open_source = open_source
        # "cuda:N": the pipeline's readers decode files with NVDEC and hand the tasks frames in GPU memory
        self.frames_device = frames_device(self.tasks) if open_source is None else "cpu"
        self._reader_options = (device, read_timeout, live_buffer, reconnect, corrupt_frames)
        if queue_size is not None and queue_size < 1:
            raise InvalidArgument(f"queue_size must be >= 1, got {queue_size}")
        if max_batch < 1 or not max_wait_ms >= 0:
            raise InvalidArgument(f"max_batch must be >= 1 and max_wait_ms >= 0, got {max_batch} and {max_wait_ms}")
        self._batch_options = (max_batch, max_wait_ms / 1000.0, queue_size)
        self.batcher: DynamicBatcher[FrameItem] | None = None  # made by start(), sized for the sources
        self.sampling = Sampling(every_n=every_n, fps=fps)
        self.on_event = on_event
        self.on_frame = on_frame
        self.metrics = Metrics()
        self._events: queue.Queue[object] = queue.Queue(maxsize=4096)
        self._workers: list[SourceWorker] = []
        self._urls: dict[str, str] = {}
        self._analysis: threading.Thread | None = None
        self._stopping = threading.Event()
        # The exception that ended the analysis thread (a task's or on_frame's): run() raises it at the end.
        self.failure: BaseException | None = None

    # -- running ---------------------------------------------------------------------------------
    def run(self, sources: Sequence[str | os.PathLike[str]]) -> Iterator[Event]:
        """Start on `sources` and yield events until every source has ended. Stops cleanly if the caller
        stops iterating (the generator is closed)."""
        self.start(sources)
        try:
            while True:
                try:
                    item = self._events.get(timeout=0.1)
                except queue.Empty:
                    # The analysis thread gives up on the end marker if stop() came while the queue was full:
                    # then an ended thread and an empty queue are the end.
                    if self._analysis is not None and not self._analysis.is_alive() and self._events.empty():
                        break
                    continue
                if item is _DONE:
                    break
                assert isinstance(item, Event)
                if self.on_event is not None:
                    self.on_event(item)
                yield item
        finally:
            self.stop()
            self.join()
        if self.failure is not None:
            raise KuzetError(f"kuzet.Pipeline: analysis failed ({type(self.failure).__name__}: {self.failure}); "
                             "every source was ended, see their source_error events") from self.failure

    def start(self, sources: Sequence[str | os.PathLike[str]]) -> None:
        if self._analysis is not None:
            raise InvalidArgument("this pipeline was already started")
        if not sources:
            raise InvalidArgument("no sources given")
        max_batch, max_wait, queue_size = self._batch_options
        if queue_size is None:
            # enough frames queued to fill two batches across all sources, and at least 2 per source:
            # memory stays near 2 * max_batch frames however many sources there are
            queue_size = max(2, -(-2 * max_batch // len(sources)))
        threads = max(1, cpu_workers() // len(sources))
        record_live = self.open_source is None and self.evidence is not None
        native_sampling = self.open_source is None
        if self.open_source is None:
            # Many sources already keep the cores busy: each decoder gets its share of them rather than a
            # frame thread per core each (which would only add threads and reference-frame copies).
            self.open_source = video_reader_opener(*self._reader_options, threads=threads, sampling=self.sampling,
                                                    frames_device=self.frames_device)
        batcher: DynamicBatcher[FrameItem] = DynamicBatcher(max_batch=max_batch, max_wait=max_wait,
                                                            queue_size=queue_size)
        self.batcher = batcher
        open_source = self.open_source
        self.metrics.register_gauge("queue_depth", batcher.depths)
        self.metrics.register_gauge("queue_depth_max", batcher.max_depths)
        taken: set[str] = set()
        for url in sources:
            name = source_name(os.fspath(url), taken)
            self._urls[name] = os.fspath(url)
            batcher.add_source(name)
            self.metrics.source(name)
            opener = open_source
            if record_live and self.evidence is not None and is_live(os.fspath(url)):
                opener = recording_opener(self.evidence, name, *self._reader_options, threads=threads,
                                          sampling=self.sampling, frames_device=self.frames_device)
            self._workers.append(SourceWorker(name, os.fspath(url), opener, batcher, self.metrics,
                                              self.sampling, self._source_failed, reader_samples=native_sampling))
        for name, url in self._urls.items():
            for task in self.tasks:
                task.start_source(name, url)
        self._analysis = threading.Thread(target=self._analyse, name="kuzet-analysis", daemon=True)
        self._analysis.start()
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Ask every thread to finish; frames already queued are dropped (and not counted as analysed)."""
        self._stopping.set()
        for worker in self._workers:
            worker.stop()
        if self.batcher is not None:
            self.batcher.stop()

    def join(self, timeout: float = 30.0) -> None:
        """Waits up to `timeout` seconds in all for the pipeline's threads; warns about any still running (a
        source still opening a connection ends when that attempt does: they are daemon threads)."""
        alive = _join_all([*self._workers, *([self._analysis] if self._analysis is not None else [])], timeout)
        if alive:
            warnings.warn(f"kuzet.Pipeline: threads still running {timeout:g} s after stop: {', '.join(alive)}",
                          RuntimeWarning, stacklevel=2)

    # -- internals -------------------------------------------------------------------------------
    def _emit(self, event: Event, *, after_stop: bool = False) -> None:
        """Queues an event for the consumer, waiting while the queue is full; after stop() (`after_stop`) only
        if there is room: a consumer still reading gets it, one that went away is never waited for."""
        if after_stop:
            with contextlib.suppress(queue.Full):
                self._events.put_nowait(event)
            return
        while not self._stopping.is_set():
            try:
                self._events.put(event, timeout=0.1)
                return
            except queue.Full:
                continue

    def _source_failed(self, name: str, exc: BaseException) -> None:
        url, shown = self._urls[name], without_credentials(self._urls[name])
        # kuzet's readers name a source without its credentials; a caller's own open_source may not
        self._emit(Event(name, "source_error", None, None,
                         {"error": type(exc).__name__, "message": str(exc).replace(url, shown), "url": shown}))

    def _segment(self, source: str, pts: float | None, index: int | None) -> dict[str, Any] | None:
        if self.segment_lookup is None or pts is None:
            return None
        return self.segment_lookup(source, pts, index)

    def _analyse(self) -> None:
        ended: set[str] = set()
        try:
            while True:
                assert self.batcher is not None
                batch = self.batcher.get_batch()
                if batch is None:
                    break
                if not batch:  # a source closed while the others have nothing queued
                    self._finish_ended_sources(ended)
                    continue
                items = [item for _, item in batch]
                if self.frames_device != "cpu":
                    items = self._on_device(items)
                with self.metrics.stage("batch", items=len(items)):
                    per_task = []
                    for task in self.tasks:
                        with self.metrics.stage(task.name, items=len(items)):
                            results = task.process(items)
                        if len(results) != len(items):  # results would be given to the wrong frames
                            raise KuzetError(f"task {task.name!r} returned {len(results)} result lists for "
                                             f"{len(items)} frames (one list per frame, in order)")
                        per_task.append(results)
                for i, item in enumerate(items):
                    self.metrics.add(item.source, analysed=1)
                    found = [det for detections in per_task for det in detections[i]]
                    if self.on_frame is not None:
                        self.on_frame(item, found)
                    for det in found:
                        self._emit(self._event(item.source, det, item.index, item.pts))
                self._finish_ended_sources(ended)
            if self._stopping.is_set():
                self._end_stopped_sources(ended)
            else:
                self._finish_ended_sources(ended, all_sources=True)
        except Exception as exc:  # a task's or on_frame's failure ends every source, each told why
            self.failure = exc
            self._end_after_failure(ended, exc)
        finally:
            # the consumer may have stopped reading (a full queue): then nobody waits for the end marker
            while True:
                try:
                    self._events.put(_DONE, timeout=0.1)
                    break
                except queue.Full:
                    if self._stopping.is_set():
                        break

    def _end_stopped_sources(self, ended: set[str]) -> None:
        """After stop(): every source not yet ended gets its last events (what its tasks still hold, such as
        open plate tracks and live recordings' seals, then source_end "stopped"), for a consumer still
        reading, e.g. a service whose shutdown called stop() from another thread."""
        _join_all(self._workers, 5.0)  # their readers close (a live recording seals its segment in progress)
        for name in self._urls:
            if name in ended:
                continue
            ended.add(name)
            if self.metrics.source(name).state == "running":  # a source still opening: it ends with the stop
                self.metrics.update_source(name, state="stopped")
            self._end_source(name, after_stop=True)

    def _end_after_failure(self, ended: set[str], exc: Exception) -> None:
        """Stops the decoders (the analysis that took their frames is gone) and ends each source not yet
        ended with a source_error (with the traceback) and a source_end in state "failed"."""
        for worker in self._workers:
            worker.stop()
        if self.batcher is not None:
            self.batcher.stop()
        _join_all(self._workers, 10.0)
        message = f"analysis failed: {type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
        for name in self._urls:
            if name in ended:
                continue
            ended.add(name)
            self.metrics.update_source(name, state="failed", error=message)
            self._emit(Event(name, "source_error", None, None,
                             {"error": type(exc).__name__, "message": message, "traceback": trace}))
            self._end_source(name, flush_tasks=False)

    def _on_device(self, items: list[FrameItem]) -> list[FrameItem]:
        """Host frames (live sources, streams NVDEC refused) uploaded once for all the GPU tasks, which would
        otherwise each upload them."""
        from kuzet.models.device_buffers import cuda_device_id, is_cuda_array, upload

        if all(is_cuda_array(item.image) for item in items):
            return items
        with self.metrics.stage("upload", items=len(items)):
            device_id = cuda_device_id(self.frames_device)
            return [item if is_cuda_array(item.image) else
                    FrameItem(item.source, item.index, item.pts, upload(item.image, device_id)) for item in items]

    def _event(self, source: str, det: dict[str, Any], index: int | None, pts: float | None) -> Event:
        data = {k: v for k, v in det.items() if k not in ("kind", "frame_index", "pts")}
        index = det.get("frame_index", index)
        pts = det.get("pts", pts)
        return Event(source, det["kind"], index, pts, data, self._segment(source, pts, index))

    def _finish_ended_sources(self, ended: set[str], all_sources: bool = False) -> None:
        """Once a source's worker has ended and its queue is drained, flush its tasks (e.g. open tracks)."""
        assert self.batcher is not None
        for worker in self._workers:
            name = worker.source_name
            # Whether the worker has ended is asked before its queue depth: once it has ended it queues nothing
            # more, so an empty queue then means every frame of it was analysed (asked the other way round, a
            # last frame queued in between would come out after its source_end). `ended`, not `is_alive()`:
            # a worker not started yet is not alive either, and has not even begun.
            if name in ended or (not worker.ended.is_set() and not all_sources) or self.batcher.depths().get(name, 0):
                continue
            ended.add(name)
            self._end_source(name, after_stop=self._stopping.is_set())  # stopped: for a consumer still reading

    def _end_source(self, name: str, flush_tasks: bool = True, after_stop: bool = False) -> None:
        """The source's last events: what its tasks still hold (e.g. open plate tracks), then source_end."""
        if flush_tasks:
            for task in self.tasks:
                for det in task.finish_source(name):
                    self._emit(self._event(name, det, None, None), after_stop=after_stop)
        stats = self.metrics.source(name)
        self._emit(Event(name, "source_end", None, stats.last_pts,
                         {"state": stats.state, "decoded": stats.decoded, "analysed": stats.analysed,
                          "sampled_out": stats.sampled_out, "dropped": stats.dropped, "corrupt": stats.corrupt,
                          "reconnects": stats.reconnects, "error": stats.error,
                          "decoder": stats.decoder, "gpu_frames": stats.gpu_frames}), after_stop=after_stop)
