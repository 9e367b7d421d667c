"""Evidence for live sources, recorded from the very connection the pipeline analyses.

The native live reader stream-copies every packet it demuxes of the video and of the audio streams MPEG-TS
carries into `<stem>.<n>.ts` (MPEG-TS, one file per connection n) and segments those same bytes as it writes
them (record/live_recorder.hpp); streams it leaves out are reported as "evidence_error" events. `LiveRecording`
is its listener: it appends each closed segment to a signed `EvidenceLog` (`<stem>.<n>.manifest.json`),
queues an "evidence_segment" event, and answers which segment covers a frame, even before that segment
has closed ("pending"). `RecordingReader` is the frame source the pipeline reads such a source with.
"""

from __future__ import annotations

import atexit
import threading
import warnings
import weakref
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kuzet._native import core
from kuzet.evidence.records import signed_target_duration


@dataclass
class _Connection:
    recording: Path
    manifest: Path
    log: Any = None  # kuzet.evidence.EvidenceLog, once the recording started
    leaf_hashes: list[str] = field(default_factory=list)
    root: str | None = None
    broken: bool = False  # a checkpoint failed: nothing more is appended
    ended: bool = False  # the source ended: a segment not signed by now never will be


@dataclass
class _Tag:
    """From this frame on (presentation order), frames belong to `segment` of `connection`."""

    first_index: int
    first_pts: float
    connection: int
    segment: int


class LiveRecording:
    """The recordings and signed logs of one live source (all its connections), and its pending events."""

    def __init__(self, source: str, stem: Path, private_key: Any, target_duration_s: float):
        self.source = source
        self.stem = stem
        self.private_key = private_key
        # as the manifest signs it (whole microseconds): the native segmenter must cut where the verifier will
        self.target_duration_s = signed_target_duration(target_duration_s)
        self._connections: dict[int, _Connection] = {}
        self._first_number: int | None = None  # file number of connection 0
        self._tags: list[_Tag] = []
        self._last_pts: dict[int, float] = {}  # per connection: the latest frame pts seen
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # -- called by the native recorder (decoding and segmenting threads) -------------------------------
    def recording_path(self, connection: int) -> str:
        with self._lock:
            if self._first_number is None:
                # numbers go on after the recordings an earlier run left in the directory: evidence is never
                # overwritten, and a new run still records
                self._first_number = 0
                while self._paths(self._first_number)[0].exists() or self._paths(self._first_number)[1].exists():
                    self._first_number += 1
            conn = _Connection(*self._paths(self._first_number + connection))
            self._connections[connection] = conn
            return str(conn.recording)

    def _paths(self, number: int) -> tuple[Path, Path]:
        return Path(f"{self.stem}.{number}.ts"), Path(f"{self.stem}.{number}.manifest.json")

    def started(self, connection: int, path: str) -> None:
        from kuzet.evidence import EvidenceLog

        with self._lock:
            conn = self._connections[connection]
            conn.log = EvidenceLog(conn.manifest, private_key=self.private_key,
                                   log_id=f"{self.source}/connection-{connection}",
                                   target_duration_s=self.target_duration_s)

    def segment(self, connection: int, native: dict[str, Any], start_s: float | None, end_s: float | None,
                confirmed: bool) -> None:
        from kuzet.evidence.records import SegmentRecord

        with self._lock:
            conn = self._connections[connection]
            if conn.broken:
                return
            if native["index"] != len(conn.leaf_hashes):  # a segment lost on the way would shift every later one
                conn.broken = True
                self._events.append(self._error(
                    f"connection {connection}: segment {native['index']} arrived where segment "
                    f"{len(conn.leaf_hashes)} was due; the signed log ends at {len(conn.leaf_hashes)} segments"))
                return
            try:
                manifest = conn.log.append(SegmentRecord._from_native(native))
            except Exception as exc:
                # a gap would shift every later segment's index: the log ends here, and says so
                conn.broken = True
                self._events.append(self._error(
                    f"connection {connection}: cannot checkpoint segment {len(conn.leaf_hashes)} in {conn.manifest} "
                    f"({exc}); the signed log ends at {len(conn.leaf_hashes)} segments"))
                return
            record = manifest.records[-1]
            conn.leaf_hashes.append(record.leaf_hash().hex())
            conn.root = manifest.tree_head.root_hash.hex()
            self._events.append({"kind": "evidence_segment", "connection": connection, "segment": record.index,
                                 "leaf_hash": conn.leaf_hashes[-1], "root": conn.root,
                                 "tree_size": len(conn.leaf_hashes), "manifest": str(conn.manifest),
                                 "recording": str(conn.recording), "start": start_s, "end": end_s,
                                 "pts": None, "frame_index": None})
            if not confirmed:
                self._events.append(self._error(
                    f"connection {connection}: segment {record.index} holds other video packets than the frames "
                    "named it while it was open; their pending segment index may be wrong"))

    def failed(self, connection: int, message: str) -> None:
        """A problem: the recording stopped, or (the message says "left out") a stream or packet is not in it."""
        with self._lock:
            self._events.append(self._error(f"connection {connection}: {message}"))

    # -- called by the pipeline -------------------------------------------------------------------------
    def note_frame(self, index: int, pts: float, connection: int, segment: int) -> None:
        """The reader's native tag of a decoded frame (segment -1: that connection is not recorded)."""
        with self._lock:
            self._last_pts[connection] = max(pts, self._last_pts.get(connection, pts))
            last = self._tags[-1] if self._tags else None
            if last is None or (last.connection, last.segment) != (connection, segment):
                self._tags.append(_Tag(index, pts, connection, segment))

    def lookup(self, pts: float, index: int | None) -> dict[str, Any] | None:
        with self._lock:
            tag = self._tag_for(pts, index)
            if tag is None or tag.segment < 0:
                return None
            conn = self._connections.get(tag.connection)
            if conn is None or conn.log is None:
                return None
            out: dict[str, Any] = {"segment": tag.segment, "connection": tag.connection,
                                   "manifest": str(conn.manifest), "recording": str(conn.recording)}
            if tag.segment < len(conn.leaf_hashes):
                out.update(leaf_hash=conn.leaf_hashes[tag.segment], root=conn.root)
            elif conn.broken or conn.ended:
                return None  # past the end of its signed log
            else:
                out["pending"] = True  # its "evidence_segment" event follows when it closes
            return out

    def take_events(self) -> list[dict[str, Any]]:
        with self._lock:
            events, self._events = self._events, []
            return events

    def sealed(self) -> list[dict[str, Any]]:
        """One "evidence" event per recorded connection (the source has ended: every segment closed)."""
        with self._lock:
            for conn in self._connections.values():
                conn.ended = True
            return [{"kind": "evidence", "connection": n, "root": c.root or c.log.manifest.tree_head.root_hash.hex(),
                     "tree_size": len(c.leaf_hashes), "manifest": str(c.manifest), "recording": str(c.recording)}
                    for n, c in sorted(self._connections.items()) if c.log is not None]

    def _tag_for(self, pts: float, index: int | None) -> _Tag | None:
        if not self._tags:
            return None
        if index is not None:  # exact: frame indices count on across reconnections
            i = bisect_right([t.first_index for t in self._tags], index) - 1
            return self._tags[i] if i >= 0 else None
        # By time only (e.g. a plate track's first sighting). Timestamps may restart when a camera reconnects:
        # if more than one connection's frames span `pts`, the frame is ambiguous and names no segment.
        found: dict[int, _Tag] = {}
        for tag in self._tags:
            if tag.first_pts <= pts + 1e-9 <= self._last_pts[tag.connection] + 2e-9:
                found[tag.connection] = tag  # the last such tag of that connection
        return next(iter(found.values())) if len(found) == 1 else None

    def _error(self, message: str) -> dict[str, Any]:
        return {"kind": "evidence_error", "message": f"{self.source}: {message}", "pts": None, "frame_index": None}


class RecordingReader:
    """Reads a live URL like kuzet.VideoReader(buffer=...) does (sampling included: every_n, sample_fps),
    while its native reader records every connection as evidence for `recording` (every packet, sampled out
    or not); each frame handed out is tagged with the segment that will hold it.

    `gpu_frames` (device "cuda[:N]"): frames are handed out in that GPU's memory, as kuzet.cuda.CudaVideoReader
    with nvdec_fallback=True hands them out (decoded on the CPU and uploaded where NVDEC cannot decode the
    stream): one reader and one recording per connection whatever decodes it."""

    def __init__(self, url: str, recording: LiveRecording, *, device: str, timeout: float, threads: int,
                 errors: str, buffer: str, reconnect: int, buffer_size: int = 8, reconnect_backoff: float = 0.5,
                 every_n: int = 1, sample_fps: float | None = None, gpu_frames: bool = False):
        from kuzet.video import _classify_source

        kind, target, name = _classify_source(url)
        self.name = name
        self.recording = recording
        self.gpu_frames = gpu_frames
        self._decoder = core.LiveVideoDecoder(kind, target, name, device, threads, errors == "skip",
                                              float(timeout or 0.0), {}, "rgb", buffer, buffer_size, reconnect,
                                              float(reconnect_backoff), recorder=recording, every_n=every_n,
                                              sample_fps=float(sample_fps or 0.0), gpu_frames=gpu_frames,
                                              nvdec_fallback=gpu_frames)
        self.device: str = self._decoder.device
        _open_readers.add(self)
        if self._decoder.fallback_reason:
            warnings.warn(f"kuzet.Pipeline: decoding {name} on the CPU ({self._decoder.fallback_reason})",
                          RuntimeWarning, stacklevel=2)

    def __iter__(self) -> Iterator[Any]:
        from kuzet.video import Frame

        while True:
            out = self._decoder.next_frame_recorded()
            if out is None:
                return
            data, pts_raw, pts, index, key, connection, segment = out
            self.recording.note_frame(index, pts, connection, segment)
            yield Frame(data=data, pts=pts, pts_raw=pts_raw, index=index, key_frame=key)

    @property
    def stats(self) -> Any:
        from kuzet.video import DecodeStats

        return DecodeStats(**self._decoder.stats())

    def close(self) -> None:
        self._decoder.close()
        _open_readers.discard(self)


# Readers still open when the interpreter exits (a service's sys.exit, a daemon thread's reader): closed while
# Python still runs, so each recording's last segments reach their signed manifest (their checkpoints call
# back into Python, which later in shutdown no longer can).
_open_readers: weakref.WeakSet[RecordingReader] = weakref.WeakSet()


@atexit.register
def _close_open_readers() -> None:
    for reader in list(_open_readers):
        reader.close()
