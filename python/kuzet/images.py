"""Reading still images (JPEG, PNG, WebP, ...) as HxWx3 uint8 RGB arrays with kuzet's own decoder."""

from __future__ import annotations

import os

import numpy as np

from kuzet.errors import DecodeError
from kuzet.video import VideoReader


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The first frame of an image (or video) file as an HxWx3 uint8 RGB array."""
    with VideoReader(path, device="cpu") as reader:
        for frame in reader:
            return np.asarray(frame.data)
    raise DecodeError(f"{os.fspath(path)}: no image could be decoded")
