"""What the pipeline delivers: one Event per detection, track or source state change."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np


@dataclass(frozen=True)
class FrameItem:
    """A decoded frame on its way from a source to the analysis stage."""

    source: str
    index: int
    pts: float
    # HxWx3 uint8 RGB: a numpy array, or (Pipeline.frames_device "cuda:N") a CUDA array with .numpy(): a
    # kuzet.DeviceArray from NVDEC, or a host frame uploaded once for the GPU tasks
    image: Any


@dataclass(frozen=True)
class Event:
    """kind: "face", "plate_read", "plate", "evidence", "evidence_segment", "evidence_error", "source_end" or
    "source_error" (docs/pipeline.md). `segment` names the evidence segment whose hash covers the frame (index,
    leaf hash and manifest; for a live source still being recorded possibly "pending"), when the evidence task
    runs."""

    source: str
    kind: str
    frame_index: int | None
    pts: float | None
    data: dict[str, Any] = field(default_factory=dict)
    segment: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "kind": self.kind, "frame_index": self.frame_index,
                               "pts": self.pts, **self.data}
        if self.segment is not None:
            out["evidence"] = self.segment
        return out


class JsonlWriter:
    """Appends events as JSON Lines, flushed per event so a crash loses nothing already reported."""

    def __init__(self, stream: IO[str]):
        self.stream = stream

    def write(self, event: Event) -> None:
        self.stream.write(json.dumps(event.to_dict(), default=_json_default) + "\n")
        self.stream.flush()


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
