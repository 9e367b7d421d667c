"""Keeps, per source, the frame that shows most and writes it with boxes and labels drawn."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from kuzet.annotate import draw_detections, save_png
from kuzet.models.device_buffers import is_cuda_array
from kuzet.pipeline import FrameItem

_DRAWN = ("face", "plate_read")


def _interest(detections: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Watchlist matches, then hotlist hits, then the number of things seen."""
    matches = sum(1 for d in detections if d["kind"] == "face" and d.get("identity"))
    hits = sum(1 for d in detections if d["kind"] == "plate_read" and d.get("hotlist"))
    return matches, hits, sum(1 for d in detections if d["kind"] in _DRAWN)


class BestFrameAnnotator:
    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self._best: dict[str, tuple[tuple[int, int, int], FrameItem, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def __call__(self, item: FrameItem, detections: list[dict[str, Any]]) -> None:
        drawn = [d for d in detections if d["kind"] in _DRAWN]
        score = _interest(drawn)
        if not drawn:
            return
        with self._lock:
            best = self._best.get(item.source)
            if best is None or score > best[0]:
                # the frame's buffer may be reused by the decoder after this call: keep a copy (on the host, for
                # a frame in GPU memory)
                image = item.image.numpy() if is_cuda_array(item.image) else np.array(item.image, copy=True)
                copy = FrameItem(item.source, item.index, item.pts, image)
                self._best[item.source] = (score, copy, drawn)

    def write(self) -> list[Path]:
        written = []
        for source, (_, item, drawn) in sorted(self._best.items()):
            name = re.sub(r"[^A-Za-z0-9._-]", "_", source)
            path = self.out_dir / f"{name}.frame{item.index}.png"
            written.append(save_png(draw_detections(item.image, drawn), path))
        return written
