"""Alignment to the ArcFace template and embeddings: geometry of aligned crops, identity of the people in the
face_recognition example photos, batched == one by one."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import kuzet
from faces_helpers import load_rgb
from kuzet._native import core
from kuzet.faces import ARCFACE_TEMPLATE, align_faces, alignment_matrices, similarity_transforms

PEOPLE = "faces/images/face_recognition"


@pytest.fixture(scope="module")
def detector(model_dir: Path) -> kuzet.FaceDetector:
    return kuzet.FaceDetector(model_dir=model_dir, device="cpu")


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> kuzet.FaceEmbedder:
    return kuzet.FaceEmbedder(model_dir=model_dir, device="cpu")


@pytest.fixture(scope="module")
def people(data_dir: Path) -> dict[str, np.ndarray]:
    names = ["obama.jpg", "obama2.jpg", "obama-240p.jpg", "obama-1080p.jpg", "biden.jpg", "two_people.jpg",
             "alex-lacamoire.png", "lin-manuel-miranda.png"]
    return {n: load_rgb(data_dir / PEOPLE / n) for n in names}


def test_umeyama_recovers_a_known_similarity() -> None:
    angle, scale, t = 0.3, 2.5, np.array([40.0, -7.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = (ARCFACE_TEMPLATE - t) @ np.linalg.inv(scale * rot).T  # points that map exactly onto the template
    m = similarity_transforms(src[None])[0]
    np.testing.assert_allclose(m[:2, :2], scale * rot, atol=1e-9)
    np.testing.assert_allclose(m[:2, 2], t, atol=1e-9)
    inv = alignment_matrices(src[None])[0]  # crop -> source
    np.testing.assert_allclose((inv[:2, :2] @ ARCFACE_TEMPLATE.T).T + inv[:2, 2], src, atol=1e-9)


def test_alignment_matrices_invert_the_least_squares_similarity() -> None:
    # the C++ closed form == numpy's similarity_transforms inverted, for any faces and crop sizes
    rng = np.random.default_rng(7)
    faces = ARCFACE_TEMPLATE * rng.uniform(0.3, 4.0, (50, 1, 1)) + rng.uniform(-500, 2000, (50, 1, 2))
    faces += rng.normal(0, 3.0, faces.shape)  # not exactly a similarity: the least-squares fit matters
    for size in (112, 96, 224):
        expected = np.linalg.inv(similarity_transforms(faces, ARCFACE_TEMPLATE * (size / 112)))
        np.testing.assert_allclose(alignment_matrices(faces, size), expected, rtol=1e-9, atol=1e-9)
    assert alignment_matrices(np.zeros((0, 5, 2))).shape == (0, 3, 3)


def test_alignment_matrices_refuse_degenerate_and_malformed_landmarks() -> None:
    good = ARCFACE_TEMPLATE[None] * 2.0
    same = np.concatenate([good, np.full((1, 5, 2), 40.0)])  # face 1: all five points equal
    with pytest.raises(kuzet.InvalidArgument, match=r"landmarks\[1\] are degenerate"):
        alignment_matrices(same)
    with pytest.raises(kuzet.InvalidArgument, match="not finite"):
        alignment_matrices(np.where(np.arange(10).reshape(1, 5, 2) == 3, np.nan, good))
    with pytest.raises(kuzet.InvalidArgument, match="shape"):
        alignment_matrices(np.zeros((2, 4, 2)))
    with pytest.raises(kuzet.InvalidArgument, match="landmarks must be a float"):
        core.alignment_matrices(np.zeros((2, 5, 2), np.int32), ARCFACE_TEMPLATE)
    with pytest.raises(kuzet.InvalidArgument, match="template"):
        core.alignment_matrices(good, ARCFACE_TEMPLATE[:1])


def test_aligned_crop_matches_template(people: dict[str, np.ndarray], detector: kuzet.FaceDetector,
                                       model_dir: Path) -> None:
    img = people["obama.jpg"]  # a frontal face
    det = detector.detect_arrays([img])
    assert len(det) == 1
    forward = similarity_transforms(det.landmarks)[0]
    mapped = det.landmarks[0] @ forward[:2, :2].T + forward[:2, 2]
    assert np.abs(mapped - ARCFACE_TEMPLATE).max() < 5.0  # least-squares residual of a frontal face: small
    # The crop is exactly cv2.warpAffine with the same (inverse) matrix.
    crop = align_faces([img], det.image_index, det.landmarks)[0]
    inv = alignment_matrices(det.landmarks)[0]
    ref = cv2.warpAffine(img, inv[:2], (112, 112), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    assert np.abs(crop.astype(int) - ref).max() <= 1
    # Re-detect the landmarks in a wider crop aligned the same way (the detector needs context around the face).
    template = ARCFACE_TEMPLATE * 1.5 + 72
    wide = core.warp_batch([img], det.image_index, np.linalg.inv(similarity_transforms(det.landmarks, template)),
                           320, 320)
    again = kuzet.FaceDetector("yunet_s_dynamic", model_dir=model_dir, device="cpu", input_size=(320, 320),
                               score_threshold=0.5).detect(wide)[0]
    assert len(again) == 1
    found = np.array(again[0].landmarks)
    assert np.abs(found - template).mean() < 6.0  # 1.5x scale: about 4 px in the 112 px crop
    assert abs(found[0, 1] - found[1, 1]) < 4.0  # eyes level: roll removed


def test_embeddings_identify_people(people: dict[str, np.ndarray], detector: kuzet.FaceDetector,
                                    embedder: kuzet.FaceEmbedder) -> None:
    names = list(people)
    faces = detector.detect([people[n] for n in names])
    emb = embedder.embed([people[n] for n in names], faces)
    assert emb.shape == (sum(len(f) for f in faces), 256) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    by_name = {}
    row = 0
    for n, fs in zip(names, faces, strict=True):
        by_name[n] = emb[row:row + len(fs)]
        row += len(fs)
    obama, biden = by_name["obama.jpg"][0], by_name["biden.jpg"][0]
    for other in ("obama2.jpg", "obama-240p.jpg", "obama-1080p.jpg"):
        assert float(by_name[other][0] @ obama) > 0.6, other
        assert float(by_name[other][0] @ biden) < 0.3, other
    assert float(obama @ biden) < 0.3
    for stranger in ("alex-lacamoire.png", "lin-manuel-miranda.png"):
        assert float(by_name[stranger][0] @ obama) < 0.3 and float(by_name[stranger][0] @ biden) < 0.3
    # two_people.jpg shows both: one face is Obama, the other Biden
    pair = by_name["two_people.jpg"]
    assert len(pair) == 2
    sims = pair @ np.stack([obama, biden]).T
    assert sorted(np.argmax(sims, axis=1).tolist()) == [0, 1] and np.all(sims.max(axis=1) > 0.5)


def test_batched_embedding_equals_one_by_one(people: dict[str, np.ndarray], detector: kuzet.FaceDetector,
                                             model_dir: Path) -> None:
    small_batches = kuzet.FaceEmbedder(model_dir=model_dir, device="cpu", batch_size=2)
    images = [people["two_people.jpg"], people["obama.jpg"], people["biden.jpg"]]
    faces = detector.detect(images)
    batched = small_batches.embed(images, faces)
    singles = np.concatenate([small_batches.embed([img], [fs]) for img, fs in zip(images, faces, strict=True)])
    np.testing.assert_allclose(batched, singles, atol=1e-5)


def test_mobileface_v3_also_identifies(people: dict[str, np.ndarray], detector: kuzet.FaceDetector,
                                       model_dir: Path) -> None:
    v3 = kuzet.FaceEmbedder("mobileface_v3", model_dir=model_dir, device="cpu")
    images = [people["obama.jpg"], people["obama-240p.jpg"], people["biden.jpg"]]
    emb = v3.embed(images, detector.detect(images))
    assert emb.shape[0] == 3
    assert emb[0] @ emb[1] > 0.5 and emb[0] @ emb[2] < 0.3 and emb[1] @ emb[2] < 0.3


def test_embed_nothing(embedder: kuzet.FaceEmbedder) -> None:
    img = np.zeros((50, 50, 3), np.uint8)
    assert embedder.embed([img], [[]]).shape == (0, 256)
    assert embedder.embed([], []).shape == (0, 256)
