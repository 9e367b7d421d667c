"""The analyses a pipeline runs on each batch of frames. A task turns a batch into detections."""

from __future__ import annotations

from typing import Any, Protocol

from kuzet.pipeline.events import FrameItem


class Task(Protocol):
    name: str

    def start_source(self, source: str, url: str) -> None:
        """Called once per source before its first frame."""
        ...

    def process(self, items: list[FrameItem]) -> list[list[dict[str, Any]]]:
        """Per frame of the batch, the detections found in it as (JSON-ready) dicts with a "kind" key."""
        ...

    def finish_source(self, source: str) -> list[dict[str, Any]]:
        """Detections that are only complete at the end of a source (e.g. plate tracks); a dict may carry
        "pts" and "frame_index" of the frame it refers to."""
        ...
