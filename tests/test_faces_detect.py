"""Face detection on real stills and video frames: counts, boxes, agreement between detector families and with
OpenCV's own YuNet implementation, batched == one by one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import kuzet
from faces_helpers import iou, load_rgb, video_frames
from kuzet._native import core

EXPECTED_COUNTS = {  # what a person sees; every registered detector finds exactly these at default settings
    "insightface/t1.jpg": 6,
    "ultralytics/zidane.jpg": 2,
    "skimage/astronaut.png": 1,
    "deepface/couple.jpg": 2,
    "deepface/selfie-many-people.jpg": 6,
    "facenet_pytorch/multiface.jpg": 6,
    "face_recognition/two_people.jpg": 2,
}
FAMILY_THRESHOLDS = {"yunet": 0.6, "scrfd_500m": 0.5, "retinaface_mnet025": 0.5}


@pytest.fixture(scope="module")
def stills(data_dir: Path) -> dict[str, np.ndarray]:
    return {name: load_rgb(data_dir / "faces" / "images" / name) for name in EXPECTED_COUNTS}


@pytest.fixture(scope="module")
def detectors(model_dir: Path) -> dict[str, kuzet.FaceDetector]:
    return {name: kuzet.FaceDetector(name, model_dir=model_dir, device="cpu", score_threshold=thr)
            for name, thr in FAMILY_THRESHOLDS.items()}


@pytest.mark.parametrize("model", list(FAMILY_THRESHOLDS))
def test_face_counts_on_real_photos(stills: dict[str, np.ndarray], detectors: dict[str, kuzet.FaceDetector],
                                   model: str) -> None:
    names = list(stills)
    results = detectors[model].detect([stills[n] for n in names])
    counts = {n: len(r) for n, r in zip(names, results, strict=True)}
    assert counts == EXPECTED_COUNTS
    for name, faces in zip(names, results, strict=True):
        h, w = stills[name].shape[:2]
        for f in faces:
            x1, y1, x2, y2 = f.box
            assert 0 < x2 - x1 < w and 0 < y2 - y1 < h and 0.5 <= f.score <= 1.0
            # boxes are not clipped: a face cut by the frame edge may stick out a little
            assert -0.1 * w <= x1 and -0.1 * h <= y1 and x2 <= 1.1 * w and y2 <= 1.1 * h
            # landmarks lie in the box (give or take a turned head): eyes above the mouth corners, nose between
            pts = np.array(f.landmarks)
            mx, my = 0.2 * (x2 - x1), 0.2 * (y2 - y1)
            assert np.all((pts[:, 0] > x1 - mx) & (pts[:, 0] < x2 + mx) & (pts[:, 1] > y1 - my) & (pts[:, 1] < y2 + my))
            assert max(pts[0, 1], pts[1, 1]) < pts[2, 1] < min(pts[3, 1], pts[4, 1])
        assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_detector_families_agree_on_boxes(stills: dict[str, np.ndarray],
                                          detectors: dict[str, kuzet.FaceDetector]) -> None:
    images = list(stills.values())
    reference = detectors["yunet"].detect(images)
    for model in ("scrfd_500m", "retinaface_mnet025"):
        for ref_faces, faces in zip(reference, detectors[model].detect(images), strict=True):
            for f in ref_faces:
                best = max(iou(f.box, g.box) for g in faces)
                assert best > 0.6, (model, f.box)


def test_yunet_equals_opencv_face_detector_yn(stills: dict[str, np.ndarray], model_dir: Path,
                                              detectors: dict[str, kuzet.FaceDetector]) -> None:
    model_file = str(model_dir / "face_detection" / "yunet_2023mar_640x640.onnx")
    for name in ("insightface/t1.jpg", "ultralytics/zidane.jpg", "deepface/couple.jpg"):
        img = stills[name]
        faces = detectors["yunet"].detect([img])[0]
        # OpenCV gets the very same letterboxed 640x640 BGR input (its own resize)
        _, t = core.preprocess_batch([img], 640, 640, fit="letterbox_topleft")
        sx, sy, px, py = (float(v) for v in t[0])
        nw, nh = round(img.shape[1] * sx), round(img.shape[0] * sy)
        canvas = np.zeros((640, 640, 3), np.uint8)
        canvas[int(py):int(py) + nh, int(px):int(px) + nw] = cv2.resize(img, (nw, nh))[..., ::-1]
        yn = cv2.FaceDetectorYN.create(model_file, "", (640, 640), 0.6, 0.3, 5000)
        _, ref = yn.detect(canvas)
        assert ref is not None and len(ref) == len(faces), name
        ref = ref[np.argsort(-ref[:, 14])]
        boxes = np.array([f.box for f in faces])
        ref_boxes = np.concatenate([ref[:, :2], ref[:, :2] + ref[:, 2:4]], 1)
        ref_boxes = (ref_boxes - [px, py, px, py]) / [sx, sy, sx, sy]
        ref_lm = (ref[:, 4:14].reshape(-1, 5, 2) - [px, py]) / [sx, sy]
        assert np.abs(boxes - ref_boxes).max() < 1.0, name
        assert np.abs(np.array([f.landmarks for f in faces]) - ref_lm).max() < 1.0, name
        assert np.abs(np.array([f.score for f in faces]) - ref[:, 14]).max() < 5e-3, name


@pytest.mark.parametrize("model", ["yunet", "retinaface_mnet025"])  # fixed input size, and fitted per image
def test_batched_equals_one_by_one(stills: dict[str, np.ndarray], model_dir: Path, model: str) -> None:
    det = kuzet.FaceDetector(model, model_dir=model_dir, device="cpu", batch_size=3)  # chunks of 3, 3, 1
    images = list(stills.values())
    batched = det.detect(images)
    for img, faces in zip(images, batched, strict=True):
        single = det.detect([img])[0]
        assert len(single) == len(faces)
        for a, b in zip(single, faces, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=0.05)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=0.05)
            assert a.score == pytest.approx(b.score, abs=1e-4)


def test_same_size_frames_as_one_array(stills: dict[str, np.ndarray], detectors: dict[str, kuzet.FaceDetector]) -> None:
    img = stills["ultralytics/zidane.jpg"]
    stack = np.stack([img, img[:, ::-1]])  # the mirror image has the same faces, mirrored
    plain, mirrored = detectors["yunet"].detect(stack)
    assert len(plain) == len(mirrored) == 2
    w = img.shape[1]
    for f in plain:
        flipped = (w - f.box[2], f.box[1], w - f.box[0], f.box[3])
        assert max(iou(flipped, g.box) for g in mirrored) > 0.85


@pytest.mark.parametrize(
    ("video", "indices", "expected"),
    [
        ("carphone_qcif.mp4", [0, 40, 80, 119], 1),
        ("intel_asl_again.mkv", [0, 30, 60], 1),
        ("short_hamilton_clip.mp4", [0, 100, 200], None),
    ],
)
def test_faces_in_video_frames(data_dir: Path, detectors: dict[str, kuzet.FaceDetector], video: str,
                               indices: list[int], expected: int | None) -> None:
    frames = video_frames(data_dir / "faces" / "video" / video, indices)
    results = detectors["yunet"].detect(frames)
    for faces in results:
        if expected is None:
            assert len(faces) >= 1
        else:
            assert len(faces) == expected
    if expected == 1:  # one person who barely moves: the face stays in about the same place
        centres = np.array([[(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2] for f, in results])
        assert np.ptp(centres, axis=0).max() < 0.25 * frames[0].shape[1]


def test_no_face_in_a_plain_image(detectors: dict[str, kuzet.FaceDetector]) -> None:
    grey = np.full((480, 640, 3), 128, np.uint8)
    for det in detectors.values():
        assert det.detect([grey]) == [[]]


def test_max_faces_keeps_the_best(stills: dict[str, np.ndarray], model_dir: Path) -> None:
    det = kuzet.FaceDetector(model_dir=model_dir, device="cpu", max_faces=2)
    all_faces = kuzet.FaceDetector(model_dir=model_dir, device="cpu").detect([stills["insightface/t1.jpg"]])[0]
    best = det.detect([stills["insightface/t1.jpg"]])[0]
    assert [f.score for f in best] == [f.score for f in all_faces[:2]]


def test_fitted_input_size_finds_the_same_faces(data_dir: Path, model_dir: Path) -> None:
    frames = video_frames(data_dir / "faces" / "video" / "short_hamilton_clip.mp4", [0, 50, 100, 150, 200, 250])
    fitted = kuzet.FaceDetector("yunet_s_dynamic", model_dir=model_dir, device="cpu")  # 640x360 -> 640x384 input
    assert fitted.input_size is None and fitted._fitted_size(frames) == (384, 640)
    square = kuzet.FaceDetector("yunet_s_dynamic", model_dir=model_dir, device="cpu", input_size=(640, 640))
    for a, b in zip(fitted.detect(frames), square.detect(frames), strict=True):
        assert len(a) == len(b) >= 1
        for f in a:
            assert max(iou(f.box, g.box) for g in b) > 0.9
