"""Reading still images (JPEG, PNG, WebP, ...) as HxWx3 uint8 RGB arrays with kuzet's own decoder."""

from __future__ import annotations

import os
import struct

import numpy as np

from kuzet.errors import DecodeError
from kuzet.video import VideoReader


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """The first frame of an image (or video) file as an HxWx3 uint8 RGB array, upright: a JPEG's EXIF
    orientation (phone photos are stored sideways with a tag saying so) is applied, as image viewers do."""
    with VideoReader(path, device="cpu") as reader:
        for frame in reader:
            return _upright(np.asarray(frame.data), exif_orientation(path))
    raise DecodeError(f"{os.fspath(path)}: no image could be decoded")


def exif_orientation(path: str | os.PathLike[str]) -> int:
    """The EXIF Orientation tag (1-8) of a JPEG file; 1 (as stored) when there is none or it is unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)  # APP1 (EXIF) comes first and is at most 64 KiB
    except OSError:
        return 1
    at = 2
    if not head.startswith(b"\xff\xd8"):
        return 1
    while at + 4 <= len(head) and head[at] == 0xFF:
        marker, size = head[at + 1], struct.unpack(">H", head[at + 2 : at + 4])[0]
        if marker == 0xE1 and head[at + 4 : at + 10] == b"Exif\0\0":
            return _tiff_orientation(head[at + 10 : at + 2 + size])
        if marker == 0xDA:  # start of the image data: no EXIF before it
            return 1
        at += 2 + size
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return 1
    order = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return 1
    for i in range(struct.unpack(order + "H", tiff[ifd : ifd + 2])[0]):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            return 1
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag == 0x0112 and kind == 3:  # Orientation, SHORT
            value = struct.unpack(order + "H", entry[8:10])[0]
            return value if 1 <= value <= 8 else 1
    return 1


def _upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """The stored pixels turned as EXIF orientation 1-8 says, as a new C-contiguous array (a view would give
    the face pipeline strides it must copy anyway)."""
    turned = {
        2: lambda a: a[:, ::-1],  # mirrored
        3: lambda a: a[::-1, ::-1],  # upside down
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),  # mirrored along the diagonal
        6: lambda a: np.rot90(a, -1),  # stored turned left: turn right
        7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }.get(orientation)
    return image if turned is None else np.ascontiguousarray(turned(image))
