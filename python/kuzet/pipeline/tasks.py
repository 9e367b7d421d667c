"""The analyses a pipeline runs on each batch of frames. A task turns a batch into events."""

from __future__ import annotations

from typing import Any, Protocol

from kuzet.pipeline.events import FrameItem


class Task(Protocol):
    name: str

    def process(self, items: list[FrameItem]) -> list[list[dict[str, Any]]]:
        """Per frame of the batch, the detections found in it as (JSON-ready) dicts with a "kind" key."""
        ...

    def finish_source(self, source: str) -> list[dict[str, Any]]:
        """Detections that are only complete at the end of a source (e.g. plate tracks), each with "pts"
        and "frame_index" of the frame it is best shown in."""
        ...
