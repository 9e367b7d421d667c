"""Result types of the plate pipeline: frozen dataclasses with `to_dict()` for JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kuzet.plates.hotlist import HotlistHit

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
Corners = tuple[tuple[float, float], ...]  # TL, TR, BR, BL in frame pixels (empty for box-only detectors)


def _round(values: tuple[float, ...], digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in values]


@dataclass(frozen=True)
class PlateDetection:
    box: Box
    corners: Corners
    score: float
    double_row: bool


@dataclass(frozen=True)
class PlateRead:
    """One plate read in one frame."""

    box: Box
    corners: Corners
    detection_score: float
    text: str  # plate characters [0-9A-Z], after format resolution
    raw_text: str  # as the recogniser read it (plate alphabet), before format resolution
    confidence: float  # mean of char_confidences (0 for an empty read)
    char_confidences: tuple[float, ...]
    format: str | None  # the plate format the text fits, None if none
    double_row: bool
    hotlist: HotlistHit | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": _round(self.box),
            "corners": [_round(c) for c in self.corners],
            "detection_score": round(self.detection_score, 4),
            "text": self.text,
            "raw_text": self.raw_text,
            "confidence": round(self.confidence, 4),
            "char_confidences": _round(self.char_confidences, 4),
            "format": self.format,
            "double_row": self.double_row,
            "hotlist": None if self.hotlist is None else self.hotlist.to_dict(),
        }


@dataclass(frozen=True)
class PlateTrack:
    """One plate followed over frames, read once by voting over its reads."""

    track_id: int
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    format: str | None
    first_pts: float
    last_pts: float
    frames: int  # frames in which the plate was detected
    votes: int  # reads that took part in the vote
    box: Box  # last box
    corners: Corners  # last corners
    hotlist: HotlistHit | None = None
    # the reads disagreed too much to be combined per character; `text` is the most confident single read
    ambiguous: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "text": self.text,
            "confidence": round(self.confidence, 4),
            "char_confidences": _round(self.char_confidences, 4),
            "format": self.format,
            "first_pts": self.first_pts,
            "last_pts": self.last_pts,
            "frames": self.frames,
            "votes": self.votes,
            "box": _round(self.box),
            "corners": [_round(c) for c in self.corners],
            "hotlist": None if self.hotlist is None else self.hotlist.to_dict(),
            "ambiguous": self.ambiguous,
        }
