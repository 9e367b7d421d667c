"""kuzet.read_image: still images upright, EXIF orientation applied as image viewers (and Pillow) do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import kuzet
from kuzet.images import exif_orientation, read_image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_reads_as_pillow_shows_it(orientation: int, tmp_path: Path) -> None:
    y, x = np.mgrid[0:40, 0:64]
    stored = np.stack([x * 4, y * 6, (x + y) * 2], -1).astype(np.uint8)
    stored[:10, :10] = 255  # a corner to tell turns from mirrors
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=100)
    want = np.asarray(ImageOps.exif_transpose(Image.open(path)).convert("RGB")).astype(int)
    got = read_image(path)
    assert exif_orientation(path) == orientation and got.flags.c_contiguous
    assert got.shape == want.shape and np.abs(got.astype(int) - want).mean() < 3  # decoders' rounding only


def test_a_phone_portrait_stored_sideways_is_enrolled_upright(data_dir: Path, model_dir: Path,
                                                              tmp_path: Path) -> None:
    upright = np.asarray(Image.open(data_dir / "faces/images/face_recognition/obama.jpg").convert("RGB"))
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn right to view": stored turned left, as a phone held upright stores it
    path = tmp_path / "portrait.jpg"
    Image.fromarray(np.rot90(upright, 1)).save(path, exif=exif.tobytes(), quality=95)
    image = read_image(path)
    assert image.shape == upright.shape
    faces = kuzet.FaceDetector(model_dir=model_dir, device="cpu").detect([image])[0]
    assert len(faces) == 1


def test_files_without_exif_and_damaged_exif_read_as_stored(data_dir: Path, tmp_path: Path) -> None:
    png = data_dir / "faces/images/face_recognition/alex-lacamoire.png"
    assert exif_orientation(png) == 1
    damaged = tmp_path / "damaged.jpg"
    data = bytearray((data_dir / "faces/images/face_recognition/obama.jpg").read_bytes())
    damaged.write_bytes(bytes(data[:2]) + b"\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\xff\xff\xff\xff" + bytes(data[2:]))
    assert exif_orientation(damaged) == 1  # an IFD offset past the end: ignored, not an error
