"""Loading helpers shared by the face tests (real stills and video frames from the shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def video_frames(path: Path, indices: list[int]) -> list[np.ndarray]:
    """RGB frames at the given decode indices (decoded with PyAV, the reference decoder for these tests)."""
    import av  # here, not at the top: the GPU machine's image has no PyAV, and its GPU tests use load_rgb only

    wanted = set(indices)
    frames = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")
            if i >= max(indices):
                break
    return [frames[i] for i in indices]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
