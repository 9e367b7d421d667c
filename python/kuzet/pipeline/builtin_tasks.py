"""The built-in tasks: faces, plates and evidence, as the pipeline runs them over batches from many sources."""

from __future__ import annotations

import os
import re
import threading
from bisect import bisect_left
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuzet.pipeline.events import FrameItem
from kuzet.pipeline.live_evidence import LiveRecording, RecordingReader


def _file_stem(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", source)


def _claim_new_path(directory: Path, stem: str, suffix: str) -> Path:
    """`directory/stem suffix`, or `stem.2 suffix`, ... : the first name no file has, created empty to claim it.
    Two sources whose names map to one file name ("cam 1.mp4", "cam_1.mp4"), or an earlier run into the same
    directory, must never overwrite each other's evidence."""
    for n in range(1, 1_000_000):
        path = directory / f"{stem}{'' if n == 1 else f'.{n}'}{suffix}"
        try:
            with open(path, "x"):
                return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no free name for {stem}{suffix}")


class PlateTask:
    """Reads plates in every frame of a batch ("plate_read" per frame) and follows them per source with one
    tracker each, emitting one voted "plate" detection per track when it ends (or at the end of the source)."""

    name = "plates"

    def __init__(self, plates: Any):  # a kuzet.PlatePipeline
        self.plates = plates
        self.trackers: dict[str, Any] = {}

    def start_source(self, source: str, url: str) -> None:
        self.trackers[source] = self.plates.new_tracker()

    def process(self, items: list[FrameItem]) -> list[list[dict[str, Any]]]:
        reads = self.plates.process([item.image for item in items])
        out: list[list[dict[str, Any]]] = []
        for item, frame_reads in zip(items, reads, strict=True):
            detections = [{"kind": "plate_read", **read.to_dict()} for read in frame_reads]
            for track in self.trackers[item.source].update(frame_reads, item.pts):
                detections.append(self._track(track))
            out.append(detections)
        return out

    def finish_source(self, source: str) -> list[dict[str, Any]]:
        return [self._track(track) for track in self.trackers.pop(source).flush()]

    @staticmethod
    def _track(track: Any) -> dict[str, Any]:
        # the event is dated at the track's first sighting; last_pts says how long it was seen
        return {"kind": "plate", **track.to_dict(), "pts": track.first_pts, "frame_index": None}


class FaceTask:
    """Detects, aligns, embeds and matches faces in every frame of a batch ("face" per face per frame)."""

    name = "faces"

    def __init__(self, faces: Any):  # a kuzet.FacePipeline
        self.faces = faces

    def start_source(self, source: str, url: str) -> None:
        pass

    def process(self, items: list[FrameItem]) -> list[list[dict[str, Any]]]:
        found = self.faces.process([item.image for item in items])
        return [[{"kind": "face", **face.to_dict(include_embedding=False)} for face in frame] for frame in found]

    def finish_source(self, source: str) -> list[dict[str, Any]]:
        return []


@dataclass(frozen=True)
class _Sealed:
    manifest_path: Path
    root: str
    starts: list[float]  # segment start times (seconds), ascending
    ends: list[float]
    leaf_hashes: list[str]


class EvidenceTask:
    """Seals each file source into a signed evidence manifest (GOP segments, RFC 6962 tree, Ed25519) in
    `out_dir`, and tells which segment's hash covers a frame, so every detection can be proven against the
    signed log. Sealing hashes compressed packets only (no decoding) and runs once per file source, on a
    thread of its own from the moment the source starts, so the analysis thread (every source's) waits for it
    only if a detection of that source comes before it is done.

    Live sources (read by the pipeline's own reader, see `open_live`) are recorded as they are analysed,
    from the same connection: `<source>.<n>.ts` plus a signed `<source>.<n>.manifest.json` per connection n,
    checkpointed as each segment closes ("evidence_segment" events); a frame's segment may still be open
    ("pending": true). Live sources read through a custom `open_source` cannot be recorded: they get an
    "evidence_error"."""

    name = "evidence"

    def __init__(self, out_dir: str | os.PathLike[str], private_key: Any, *, target_duration_s: float = 2.0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.private_key = private_key
        self.target_duration_s = target_duration_s
        self._urls: dict[str, str] = {}
        self._live: dict[str, LiveRecording] = {}  # live sources recorded by their reader
        self._lock = threading.Lock()
        # source -> its seal (or why it could not be sealed), made on a thread of its own from the start
        self._sealing: dict[str, Future[_Sealed | str]] = {}
        self._sealer: ThreadPoolExecutor | None = None

    def start_source(self, source: str, url: str) -> None:
        self._urls[source] = url
        with self._lock:
            if "://" in url and not url.startswith("file://"):  # not a file: why it is not sealed, at once
                self._sealing[source] = Future()
                self._sealing[source].set_result(self._seal_now(source))
                return
            if self._sealer is None:  # a file: sealed beside its decoding
                self._sealer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kuzet-seal")
            self._sealing[source] = self._sealer.submit(self._seal_now, source)

    def open_live(self, source: str, url: str, **reader_options: Any) -> RecordingReader:
        """The frame source for live `url`: a live reader that records each connection as evidence."""
        recording = LiveRecording(source, self.out_dir / _file_stem(source), self.private_key,
                                  self.target_duration_s)
        with self._lock:
            self._live[source] = recording
        return RecordingReader(url, recording, **reader_options)

    def process(self, items: list[FrameItem]) -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = [[] for _ in items]
        # segments that closed (and recording problems) since the last batch ride on a frame of their source
        for i, item in enumerate(items):
            live = self._live.get(item.source)
            if live is not None:
                out[i].extend(live.take_events())
        return out

    def finish_source(self, source: str) -> list[dict[str, Any]]:
        live = self._live.get(source)
        if live is not None:  # the reader is closed: every connection's last segment is sealed
            return live.take_events() + live.sealed()
        sealed = self._seal(source)
        with self._lock:
            if self._sealer is not None and all(f.done() for f in self._sealing.values()):
                self._sealer.shutdown(wait=False)  # nothing left to seal: its thread ends
                self._sealer = None
        if isinstance(sealed, str):
            return [{"kind": "evidence_error", "message": sealed}]
        return [{"kind": "evidence", "root": sealed.root, "tree_size": len(sealed.leaf_hashes),
                 "manifest": str(sealed.manifest_path)}]

    def lookup(self, source: str, pts: float, index: int | None = None) -> dict[str, Any] | None:
        """The segment covering the frame at `pts` seconds (frame `index`, when known: exact for live sources
        whose timestamps restart on reconnection)."""
        live = self._live.get(source)
        if live is not None:
            return live.lookup(pts, index)
        sealed = self._seal(source)
        if isinstance(sealed, str):
            return None
        # The segment whose packets hold the frame: the first whose last pts is at or after the frame's.
        # (A GOP's leading B-frames have pts before its key frame but after the previous GOP's last pts.)
        if pts > sealed.ends[-1] + 1e-6:
            return None  # after the last sealed frame (the file grew after sealing): in no segment
        i = bisect_left(sealed.ends, pts - 1e-9)
        return {"segment": i, "leaf_hash": sealed.leaf_hashes[i], "root": sealed.root,
                "manifest": str(sealed.manifest_path)}

    def _seal(self, source: str) -> _Sealed | str:
        with self._lock:
            future = self._sealing[source]
        return future.result()

    def _seal_now(self, source: str) -> _Sealed | str:
        from kuzet.errors import KuzetError
        from kuzet.evidence import seal

        url = self._urls[source]
        if "://" in url and not url.startswith("file://"):
            return (f"{source}: live source {url} cannot be sealed after the fact and was not read by the pipeline's "
                    "own reader (a custom open_source); record it with EvidenceLog")
        try:
            manifest = seal(url, private_key=self.private_key, target_duration_s=self.target_duration_s,
                            log_id=source)
        except KuzetError as exc:
            return f"{source}: {exc}"
        path = _claim_new_path(self.out_dir, _file_stem(source), ".manifest.json")
        manifest.write(path)
        records = manifest.records
        if not records:
            return f"{source}: no segments"

        def seconds(ticks: int | None, tb: tuple[int, int]) -> float:
            return float("-inf") if ticks is None else ticks * tb[0] / tb[1]

        return _Sealed(path, manifest.tree_head.root_hash.hex(),
                       [seconds(r.start_pts, r.time_base) for r in records],
                       [seconds(r.end_pts, r.time_base) for r in records],
                       [r.leaf_hash().hex() for r in records])
