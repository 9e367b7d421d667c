"""Frozen result types returned by kuzet's pipelines, and a JSON helper.

Coordinates are in pixels of the original image (x right, y down, pixel edges: a box (0, 0, w, h) covers the
whole image). Boxes are not clipped to the image: a face cut by the frame edge keeps its estimated extent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Point = tuple[float, float]


@dataclass(frozen=True)
class Face:
    """One detected face.

    box: (x1, y1, x2, y2); score: detector confidence in [0, 1]; landmarks: 5 points (right eye, left eye,
    nose tip, right mouth corner, left mouth corner, as seen from the subject); embedding: L2-normalised
    float32 vector when the face was embedded; identity / similarity: the best watchlist match at or above
    the pipeline's threshold (cosine similarity), else None.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[Point, Point, Point, Point, Point]
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    identity: str | None = None
    similarity: float | None = None

    def to_dict(self, *, include_embedding: bool = False) -> dict[str, Any]:
        """Plain JSON-serialisable dict (the embedding only when asked: it is large)."""
        d: dict[str, Any] = {
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": [[round(x, 2), round(y, 2)] for x, y in self.landmarks],
            "identity": self.identity,
            "similarity": None if self.similarity is None else round(self.similarity, 4),
        }
        if include_embedding and self.embedding is not None:
            d["embedding"] = [float(v) for v in self.embedding]
        return d


def to_json(results: Any, **kwargs: Any) -> str:
    """JSON text of a result, or of nested lists/tuples/dicts of results (anything with to_dict())."""

    def convert(obj: Any) -> Any:
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        if isinstance(obj, (list, tuple)):
            return [convert(o) for o in obj]
        if isinstance(obj, dict):
            return {str(k): convert(v) for k, v in obj.items()}
        if isinstance(obj, np.generic):
            return obj.item()
        return obj

    return json.dumps(convert(results), **kwargs)


__all__ = ["Face", "Point", "to_json"]
