"""A minimal pipeline task shared by the pipeline tests: it counts the frames that reach analysis."""

from __future__ import annotations

from kuzet.pipeline import FrameItem


class CountingTask:
    name = "count"

    def __init__(self) -> None:
        self.frames = 0

    def start_source(self, source: str, url: str) -> None:
        pass

    def process(self, items: list[FrameItem]) -> list[list[dict]]:
        self.frames += len(items)
        return [[] for _ in items]

    def finish_source(self, source: str) -> list[dict]:
        return []
