"""The CPU face pipeline's overlapped schedule (each frame's detection one pool task, its faces' embeddings
further tasks) gives exactly what the staged one (detect all, then embed all) gives, and nests safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kuzet
from faces_helpers import load_rgb, video_frames
from kuzet.models.parallel import shared_pool

STILLS = ["face_recognition/two_people.jpg", "deepface/selfie-many-people.jpg", "face_recognition/obama.jpg",
          "insightface/t1.jpg"]


@pytest.fixture(scope="module")
def frames(data_dir: Path) -> list[np.ndarray]:
    video = video_frames(data_dir / "faces" / "video" / "short_hamilton_clip.mp4", [0, 40, 80, 120])
    return video + [load_rgb(data_dir / "faces" / "images" / s) for s in STILLS]


@pytest.mark.parametrize("detector", ["yunet", "yunet_s_dynamic"])
def test_overlapped_equals_staged(model_dir: Path, data_dir: Path, frames: list[np.ndarray], detector: str) -> None:
    obama = load_rgb(data_dir / "faces" / "images" / "face_recognition" / "obama2.jpg")
    results = []
    for workers in (2, 1):  # 2: the overlapped schedule (on any machine); 1: stage by stage in the caller
        p = kuzet.FacePipeline(
            detector=kuzet.FaceDetector(detector, model_dir=model_dir, device="cpu", workers=workers),
            embedder=kuzet.FaceEmbedder(model_dir=model_dir, device="cpu", workers=workers),
            watchlist=kuzet.Watchlist())
        assert p.detector.batch_size == 1 and p.embedder.batch_size == 1  # the CPU defaults
        p.enrol("obama", [obama])
        results.append(p.process(frames))
    overlapped, staged = results
    assert [len(f) for f in overlapped] == [len(f) for f in staged]
    assert sum(len(f) for f in overlapped) >= 10  # group photos: many faces, spread over several tasks
    assert any(f.identity == "obama" for fs in overlapped for f in fs)
    for fa, fb in zip(overlapped, staged, strict=True):
        for a, b in zip(fa, fb, strict=True):
            assert a.identity == b.identity
            np.testing.assert_allclose(a.box, b.box, atol=1e-4)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-4)
            np.testing.assert_allclose(a.embedding, b.embedding, atol=1e-5)


def test_process_from_a_pool_thread_runs_inline(model_dir: Path, frames: list[np.ndarray]) -> None:
    """A pipeline called on one of the shared pool's own threads must not wait on the pool (it could wait
    forever with every pool thread doing the same): it runs inline and gives the same faces."""
    p = kuzet.FacePipeline(detector=kuzet.FaceDetector(model_dir=model_dir, device="cpu", workers=2),
                           embedder=kuzet.FaceEmbedder(model_dir=model_dir, device="cpu", workers=2))
    direct = p.process(frames)
    nested = [shared_pool().submit(p.process, frames[i:i + 4]) for i in range(0, len(frames), 4)]
    got = [f for job in nested for f in job.result(timeout=120)]
    assert [[(round(f.box[0]), round(f.box[1])) for f in fs] for fs in got] == \
        [[(round(f.box[0]), round(f.box[1])) for f in fs] for fs in direct]


def test_no_frames_and_frames_without_faces(model_dir: Path) -> None:
    p = kuzet.FacePipeline(detector=kuzet.FaceDetector(model_dir=model_dir, device="cpu", workers=2),
                           embedder=kuzet.FaceEmbedder(model_dir=model_dir, device="cpu", workers=2))
    assert p.process([]) == []
    assert p.process([np.zeros((120, 160, 3), np.uint8)] * 3) == [[], [], []]
