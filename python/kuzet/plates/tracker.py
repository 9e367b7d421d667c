"""IoU tracking of plate reads across frames; each finished track is read once by per-character voting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kuzet.errors import InvalidArgument
from kuzet.plates.formats import FormatSet
from kuzet.plates.hotlist import Hotlist, HotlistHit, edit_distance
from kuzet.plates.results import PlateRead, PlateTrack
from kuzet.plates.voting import vote


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (K,4) against every box in b (L,4), x1y1x2y2."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


# A read more than this many edits from its track's running vote disagrees with the track's plate ...
_SPLIT_DISTANCE = 2
# ... and this many such reads in a row, agreeing with each other, are another plate: the track is split.
# One disagreeing read alone is taken for a misread and still votes in its track.
_SPLIT_AFTER = 2
# The running vote a read is compared with is over the track's latest reads, so its cost stays bounded for
# a car parked in view for hours.
_CONSENSUS_WINDOW = 32


@dataclass
class _Track:
    track_id: int
    first_pts: float
    last_pts: float
    last: PlateRead
    reads: list[tuple[str, tuple[float, ...]]] = field(default_factory=list)
    frames: int = 0
    # Reads (with their pts) held back because their text disagrees with the track's: they join the track
    # if it turns out to be a passing misread, or start a new track if another plate is being read.
    pending: list[tuple[PlateRead, float]] = field(default_factory=list)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """The latest box seen, held-back reads included (they are still this object in the frame)."""
        return self.pending[-1][0].box if self.pending else self.last.box

    @property
    def seen_pts(self) -> float:
        return self.pending[-1][1] if self.pending else self.last_pts

    def accept(self, read: PlateRead, pts: float) -> None:
        self.last = read
        self.last_pts = pts
        self.frames += 1
        if read.text:
            self.reads.append((read.text, read.char_confidences))

    def settle(self) -> None:
        """The held-back reads were misreads of this track's plate: they join it."""
        for read, pts in self.pending:
            self.accept(read, pts)
        self.pending = []


class PlateTracker:
    """Follows plates across frames by box overlap and emits one voted read per track when it ends.

    A track ends when its plate has not been seen for more than `max_gap` (in pts units, e.g. seconds);
    `flush()` ends all tracks at the end of a stream. A parked car is thus one track, read once.

    Box overlap alone cannot tell two cars apart when one stops where the other was (a gate, a barrier):
    the second car's reads would vote in the first car's track and its plate would never be reported. So
    the text is compared too: a read more than 2 edits from the track's running vote disagrees, and 2
    disagreeing reads in a row that agree with each other end the track (it is reported) and start a new
    one from them. A single disagreeing read (a misread, a glare) stays in its track. The price: a passer-by
    hiding 3 or more characters for 2 frames or more also splits the track, and the plate is reported
    again; a plate read twice is preferred to a car missed.
    """

    def __init__(self, *, iou_threshold: float = 0.3, max_gap: float = 1.0, formats: FormatSet | None = None,
                 hotlist: Hotlist | None = None, min_reads: int = 1, min_confidence: float = 0.0):
        if not 0.0 < iou_threshold <= 1.0:
            raise InvalidArgument(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if not max_gap >= 0:
            raise InvalidArgument(f"max_gap must be >= 0, got {max_gap}")
        if min_reads < 1:
            raise InvalidArgument(f"min_reads must be >= 1, got {min_reads}")
        if not 0.0 <= min_confidence <= 1.0:
            raise InvalidArgument(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.min_confidence = min_confidence
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self.formats = formats or FormatSet()
        self.hotlist = hotlist
        self.min_reads = min_reads
        self._active: list[_Track] = []
        self._next_id = 1
        self._last_pts = -math.inf

    def update(self, reads: Sequence[PlateRead], pts: float) -> list[PlateTrack]:
        """Add one frame's reads (at time pts, non-decreasing); returns the tracks that ended."""
        pts = float(pts)
        if not math.isfinite(pts):
            raise InvalidArgument(f"pts must be finite, got {pts}")
        if pts < self._last_pts:
            raise InvalidArgument(f"pts must not decrease: {pts} after {self._last_pts}")
        self._last_pts = pts
        finished = [t for t in self._active if pts - t.seen_pts > self.max_gap]
        self._active = [t for t in self._active if pts - t.seen_pts <= self.max_gap]
        for t in finished:
            t.settle()  # a lone disagreeing read at the end of a track is a misread of its plate
        unmatched = list(range(len(reads)))
        if self._active and reads:
            ious = iou_matrix(np.array([t.box for t in self._active], np.float64),
                              np.array([r.box for r in reads], np.float64))
            # Greedy assignment, best overlap first: each track and each read used at most once.
            order = np.dstack(np.unravel_index(np.argsort(-ious, axis=None), ious.shape))[0]
            used_tracks: set[int] = set()
            used_reads: set[int] = set()
            for ti, ri in order:
                if ious[ti, ri] < self.iou_threshold:
                    break
                if ti in used_tracks or ri in used_reads:
                    continue
                used_tracks.add(int(ti))
                used_reads.add(int(ri))
                successor = self._extend(self._active[ti], reads[ri], pts)
                if successor is not None:  # another plate at the same place: the old track has ended
                    finished.append(self._active[ti])
                    self._active[ti] = successor
            unmatched = [i for i in unmatched if i not in used_reads]
        for i in unmatched:
            track = self._new_track(reads[i], pts)
            track.accept(reads[i], pts)
            self._active.append(track)
        return self._emit(finished)

    def flush(self) -> list[PlateTrack]:
        """End every active track (end of stream)."""
        finished, self._active = self._active, []
        for t in finished:
            t.settle()
        return self._emit(finished)

    def _new_track(self, read: PlateRead, pts: float) -> _Track:
        track = _Track(self._next_id, pts, pts, read)
        self._next_id += 1
        return track

    def _extend(self, track: _Track, read: PlateRead, pts: float) -> _Track | None:
        """Add a read matched to `track` by overlap; returns a new track when the reads show another plate."""
        if not read.text:
            # No text to compare: the frame goes with the held-back reads if there are any, else the track.
            if track.pending:
                track.pending.append((read, pts))
            else:
                track.accept(read, pts)
            return None
        consensus = vote(track.reads[-_CONSENSUS_WINDOW:])
        if consensus is None or edit_distance(read.text, consensus.text) <= _SPLIT_DISTANCE:
            track.settle()  # reads held back before this one were a passing misread
            track.accept(read, pts)
            return None
        held = [r.text for r, _ in track.pending if r.text]
        if held and edit_distance(read.text, held[-1]) > _SPLIT_DISTANCE:
            track.settle()  # disagreeing reads that disagree with each other too are misreads, not a plate
        track.pending.append((read, pts))
        if sum(1 for r, _ in track.pending if r.text) < _SPLIT_AFTER:
            return None
        successor = self._new_track(track.pending[0][0], track.pending[0][1])
        for r, p in track.pending:
            successor.accept(r, p)
        track.pending = []
        return successor

    def _hotlist_hit(self, text: str, track: _Track, ambiguous: bool) -> HotlistHit | None:
        """The hotlist hit of the track's text; for an ambiguous track (reads without a majority, the text is
        one read of several) the best hit among all its distinct reads, so a wanted plate that was half the
        reads is never lost: exact before fuzzy, then the nearest."""
        if self.hotlist is None:
            return None
        hit = self.hotlist.match(text)
        if hit is not None or not ambiguous:
            return hit
        reads = dict.fromkeys(r for r, _ in track.reads if r)
        found = [h for h in (self.hotlist.match(self.formats.resolve(r).text) for r in reads) if h is not None]
        return min(found, key=lambda h: h.distance) if found else None

    def _emit(self, tracks: list[_Track]) -> list[PlateTrack]:
        out = []
        for t in sorted(tracks, key=lambda t: t.track_id):
            result = vote(t.reads)
            # a track whose voted read is this unsure is a false detection or an unreadable plate, not a read
            if result is None or result.votes < self.min_reads or result.confidence < self.min_confidence:
                continue
            resolved = self.formats.resolve(result.text)
            hit = self._hotlist_hit(resolved.text, t, result.ambiguous)
            out.append(PlateTrack(
                track_id=t.track_id, text=resolved.text, confidence=result.confidence,
                char_confidences=result.char_confidences, format=resolved.format, first_pts=t.first_pts,
                last_pts=t.last_pts, frames=t.frames, votes=result.votes, box=t.last.box,
                corners=t.last.corners, hotlist=hit, ambiguous=result.ambiguous,
            ))
        return out
