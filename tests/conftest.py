"""Shared fixtures: where the real test data and models live.

Tests use real files from the shared data and model directories (never committed to this repository):
KUZET_DATA_DIR and KUZET_MODEL_DIR point at them; by default ../shared/data and ../shared/models beside the
checkout. A missing directory fails the run with a message saying so, rather than skipping tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _dir_from_env(var: str, default: Path) -> Path:
    path = Path(os.environ.get(var, default)).resolve()
    if not path.is_dir():
        pytest.exit(f"{var}={path} is not a directory: point it at the shared test data/models", returncode=4)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _dir_from_env("KUZET_DATA_DIR", REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return _dir_from_env("KUZET_MODEL_DIR", REPO.parent / "shared" / "models")


@pytest.fixture(scope="session")
def uk_plate_frames(data_dir: Path) -> list:
    """All 140 frames of plates/video/license_plate_uk.mp4 as RGB arrays (decoded by OpenCV, independent
    of kuzet's decoder), for the plate tests."""
    import cv2

    cap = cv2.VideoCapture(str(data_dir / "plates" / "video" / "license_plate_uk.mp4"))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    assert len(frames) == 140
    return frames
