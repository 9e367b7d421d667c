"""Bad inputs to the face APIs: clear kuzet exceptions, never a crash; grey and RGBA images are converted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import kuzet


@pytest.fixture(scope="module")
def detector(model_dir: Path) -> kuzet.FaceDetector:
    return kuzet.FaceDetector(model_dir=model_dir, device="cpu")


@pytest.fixture(scope="module")
def astronaut(data_dir: Path) -> np.ndarray:
    return np.asarray(Image.open(data_dir / "faces" / "images" / "skimage" / "astronaut.png").convert("RGB"))


def test_empty_batches(detector: kuzet.FaceDetector, model_dir: Path) -> None:
    assert detector.detect([]) == []
    pipeline = kuzet.FacePipeline(detector=detector, embedder=kuzet.FaceEmbedder(model_dir=model_dir, device="cpu"))
    assert pipeline.process([]) == []


def test_grey_and_rgba_images_are_converted(detector: kuzet.FaceDetector, astronaut: np.ndarray,
                                            data_dir: Path) -> None:
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    assert grey.ndim == 2
    assert len(detector.detect([grey])[0]) == 1
    rgba = np.asarray(Image.open(data_dir / "faces" / "images" / "face_recognition" / "alex-lacamoire.png"))
    assert rgba.shape[2] == 4
    assert len(detector.detect([rgba])[0]) == 1
    single = detector.detect(astronaut)  # one HxWx3 array is a batch of one
    assert len(single) == 1 and len(single[0]) == 1


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([np.zeros((64, 64, 3), np.float32)], "uint8"),
        ([np.zeros((0, 64, 3), np.uint8)], "empty"),
        ([np.zeros((64, 64, 2), np.uint8)], "HxWx3"),
        ([np.zeros((4, 64, 64, 3), np.uint8)], "HxWx3"),
        (["frame.jpg"], "numpy array"),
        ("frame.jpg", "sequence"),
        (None, "sequence"),
    ],
)
def test_bad_images_raise_invalid_argument(detector: kuzet.FaceDetector, images: object, message: str) -> None:
    with pytest.raises(kuzet.InvalidArgument, match=message):
        detector.detect(images)  # type: ignore[arg-type]


def test_wrong_models_raise_model_error(model_dir: Path) -> None:
    with pytest.raises(kuzet.ModelError, match="plate_detector, not a face_detector"):
        kuzet.FaceDetector("hyperlpr3_320", model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.ModelError, match="face_detector, not a face_embedder"):
        kuzet.FaceEmbedder("yunet", model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.ModelError, match="contract"):  # a plate detector's file under the YuNet name
        kuzet.FaceDetector("yunet", path=model_dir / "plate_detection" / "hyperlpr3_y5fu_320x.onnx", device="cpu")
    with pytest.raises(kuzet.ModelError, match="unknown model"):
        kuzet.FaceDetector("no-such-detector", model_dir=model_dir, device="cpu")


def test_bad_options_raise_invalid_argument(model_dir: Path, detector: kuzet.FaceDetector,
                                            astronaut: np.ndarray) -> None:
    with pytest.raises(kuzet.InvalidArgument, match="score_threshold"):
        kuzet.FaceDetector(model_dir=model_dir, device="cpu", score_threshold=1.5)
    with pytest.raises(kuzet.InvalidArgument, match="input_size"):
        kuzet.FaceDetector("yunet_s_dynamic", model_dir=model_dir, device="cpu", input_size=(100, 100))
    for size in ({"input_size": (320, 320)}, {"max_side": 320}):  # the default YuNet file is fixed at 640x640
        with pytest.raises(kuzet.InvalidArgument, match="fixed 640x640 input"):
            kuzet.FaceDetector(model_dir=model_dir, device="cpu", **size)  # type: ignore[arg-type]
    assert kuzet.FaceDetector(model_dir=model_dir, device="cpu", input_size=(640, 640)).input_size == (640, 640)
    embedder = kuzet.FaceEmbedder(model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.InvalidArgument, match="one list of faces per image"):
        embedder.embed([astronaut], [])
    with pytest.raises(kuzet.InvalidArgument, match="crops"):
        embedder.embed_aligned(np.zeros((1, 100, 100, 3), np.uint8))
    with pytest.raises(kuzet.InvalidArgument, match="no watchlist"):
        kuzet.FacePipeline(detector=detector, embedder=embedder).enrol("x", [astronaut])


def test_corrupt_watchlist_file(tmp_path: Path) -> None:
    bad = tmp_path / "wl.sqlite"
    bad.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(kuzet.KuzetError, match="not a readable watchlist"):
        kuzet.Watchlist(bad)


def test_flipped_and_single_row_views_are_read_not_refused(detector: kuzet.FaceDetector,
                                                           astronaut: np.ndarray) -> None:
    view = astronaut[::-1]  # np.flipud: a view with negative row strides
    assert detector.detect([view])[0] == detector.detect([np.ascontiguousarray(view)])[0]
    row = np.zeros((1, 300, 3), np.uint8)
    assert detector.detect([np.broadcast_to(row, (200, 300, 3))])[0] == []  # rows repeating (stride 0)
