"""Watchlist (SQLite persistence, model-id refusal, top-k search at scale) and the end-to-end FacePipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import kuzet
from faces_helpers import load_rgb
from kuzet.faces import Watchlist
from kuzet.results import to_json

PEOPLE = "faces/images/face_recognition"


@pytest.fixture(scope="module")
def detector(model_dir: Path) -> kuzet.FaceDetector:
    return kuzet.FaceDetector(model_dir=model_dir, device="cpu")


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> kuzet.FaceEmbedder:
    return kuzet.FaceEmbedder(model_dir=model_dir, device="cpu")


@pytest.fixture(scope="module")
def people(data_dir: Path) -> dict[str, np.ndarray]:
    names = ["obama.jpg", "obama2.jpg", "obama-240p.jpg", "biden.jpg", "two_people.jpg", "alex-lacamoire.png"]
    return {n: load_rgb(data_dir / PEOPLE / n) for n in names}


def make_pipeline(detector: kuzet.FaceDetector, embedder: kuzet.FaceEmbedder, path: Path | None,
                  people: dict[str, np.ndarray]) -> kuzet.FacePipeline:
    pipeline = kuzet.FacePipeline(detector=detector, embedder=embedder, watchlist=Watchlist(path))
    assert pipeline.enrol("obama", [people["obama.jpg"]]) == 1
    assert pipeline.enrol("biden", [people["biden.jpg"]]) == 1
    return pipeline


def test_pipeline_names_the_right_person(detector: kuzet.FaceDetector, embedder: kuzet.FaceEmbedder,
                                         people: dict[str, np.ndarray]) -> None:
    pipeline = make_pipeline(detector, embedder, None, people)
    queries = ["obama2.jpg", "obama-240p.jpg", "two_people.jpg", "alex-lacamoire.png"]
    results = pipeline.process([people[q] for q in queries])
    assert [f.identity for f in results[0]] == ["obama"]
    assert [f.identity for f in results[1]] == ["obama"]
    assert sorted(f.identity or "" for f in results[2]) == ["biden", "obama"]
    assert [f.identity for f in results[3]] == [None]
    for faces in results:
        for f in faces:
            assert f.embedding is not None and f.embedding.shape == (256,)
            assert (f.similarity is None) == (f.identity is None)
            if f.similarity is not None:
                assert 0.43 <= f.similarity <= 1.0
    # the JSON form is plain data
    data = json.loads(to_json(results))
    assert data[0][0]["identity"] == "obama" and len(data[0][0]["landmarks"]) == 5 and "embedding" not in data[0][0]


def test_auto_watchlist_search_falls_back_to_the_cpu_when_the_gpu_search_fails(
        detector: kuzet.FaceDetector, embedder: kuzet.FaceEmbedder, people: dict[str, np.ndarray],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a GPU machine whose CuPy cannot search (here: not installed, which search(device='cuda') reports as
    # a KuzetError): "auto" picks the GPU for a large watchlist; the failure is warned about once, the CPU
    # searches instead, and the results are the CPU's. An explicit watchlist_device raises.
    import kuzet.faces.pipeline as face_pipeline

    pipeline = make_pipeline(detector, embedder, None, people)
    expected = pipeline.process([people["two_people.jpg"]])
    monkeypatch.setattr(face_pipeline, "GPU_WATCHLIST_MIN", 1)
    monkeypatch.setattr(face_pipeline, "cupy_available", lambda: True)
    monkeypatch.setattr(pipeline, "device", "cuda:0")
    assert pipeline._search_device() == "cuda:0"
    with pytest.warns(RuntimeWarning, match="watchlist search on cuda:0 failed .*searching on the CPU from now on"):
        got = pipeline.process([people["two_people.jpg"]])
    assert [[(f.identity, f.similarity) for f in fs] for fs in got] == \
        [[(f.identity, f.similarity) for f in fs] for fs in expected]
    assert pipeline._search_device() == "cpu"
    strict = kuzet.FacePipeline(detector=detector, embedder=embedder, watchlist=pipeline.watchlist,
                                watchlist_device="cuda:0")
    with pytest.raises(kuzet.KuzetError, match="CuPy"):
        strict.process([people["two_people.jpg"]])


def test_pipeline_batched_equals_one_by_one(detector: kuzet.FaceDetector, embedder: kuzet.FaceEmbedder,
                                            people: dict[str, np.ndarray]) -> None:
    pipeline = make_pipeline(detector, embedder, None, people)
    images = list(people.values())
    batched = pipeline.process(images)
    for img, faces in zip(images, batched, strict=True):
        single = pipeline.process([img])[0]
        assert [f.identity for f in single] == [f.identity for f in faces]
        for a, b in zip(single, faces, strict=True):
            assert a.embedding is not None and b.embedding is not None
            assert float(a.embedding @ b.embedding) > 0.9999
            np.testing.assert_allclose(a.box, b.box, atol=0.05)


def test_watchlist_persists_and_reloads(tmp_path: Path, detector: kuzet.FaceDetector, embedder: kuzet.FaceEmbedder,
                                        people: dict[str, np.ndarray]) -> None:
    path = tmp_path / "watchlist.sqlite"
    pipeline = make_pipeline(detector, embedder, path, people)
    before = pipeline.process([people["obama2.jpg"]])[0][0]
    assert pipeline.watchlist is not None
    pipeline.watchlist.close()
    with Watchlist(path, model_id=embedder.model_id) as reloaded:
        assert reloaded.identities == ["obama", "biden"] and len(reloaded) == 2
        assert reloaded.model_id == embedder.model_id and reloaded.dim == 256
        again = kuzet.FacePipeline(detector=detector, embedder=embedder, watchlist=reloaded)
        after = again.process([people["obama2.jpg"]])[0][0]
        assert after.identity == before.identity == "obama"
        assert after.similarity == pytest.approx(before.similarity, abs=1e-6)
        reloaded.remove("biden")
    with Watchlist(path) as third:
        assert third.identities == ["obama"]


def test_watchlist_refuses_another_models_embeddings(tmp_path: Path, detector: kuzet.FaceDetector,
                                                     embedder: kuzet.FaceEmbedder, model_dir: Path,
                                                     people: dict[str, np.ndarray]) -> None:
    path = tmp_path / "wl.sqlite"
    make_pipeline(detector, embedder, path, people)
    with pytest.raises(kuzet.ModelError, match="mobileface_v2"):
        Watchlist(path, model_id="mobileface_v3:abc")
    wl = Watchlist(path)
    with pytest.raises(kuzet.ModelError, match="refusing"):
        wl.enrol("x", np.ones(256, np.float32), model_id="other-model")
    with pytest.raises(kuzet.ModelError):
        wl.search(np.ones((1, 256), np.float32), model_id="other-model")
    v3 = kuzet.FaceEmbedder("mobileface_v3", model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.ModelError):
        kuzet.FacePipeline(detector=detector, embedder=v3, watchlist=wl)
    with pytest.raises(kuzet.InvalidArgument, match="dimension"):
        wl.enrol("x", np.ones(128, np.float32), model_id=embedder.model_id)
    wl.close()


def test_watchlist_top_k_search_at_scale(embedder: kuzet.FaceEmbedder, detector: kuzet.FaceDetector,
                                         people: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    random = rng.standard_normal((n, 256)).astype(np.float32)
    wl = Watchlist()
    wl.enrol_many([f"id{i}" for i in range(n)], random, model_id=embedder.model_id)
    images = [people["obama.jpg"], people["obama2.jpg"]]
    emb = embedder.embed(images, detector.detect(images))
    wl.enrol("obama", emb[0], model_id=embedder.model_id)
    assert len(wl) == n + 1 and wl.matrix.shape == (n + 1, 256) and wl.matrix.flags.c_contiguous
    best = wl.search(emb[1], top_k=3, threshold=-1.0)[0]
    assert best[0].identity == "obama" and len(best) == 3
    # against a brute-force sort of the same similarities
    queries = rng.standard_normal((5, 256)).astype(np.float32)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = q @ wl.matrix.T
    found = wl.search(queries, top_k=10, threshold=-1.0)
    for row, matches in zip(sims, found, strict=True):
        expected = np.argsort(-row, kind="stable")[:10]
        assert [m.identity for m in matches] == [wl.identities[j] for j in expected]
        np.testing.assert_allclose([m.similarity for m in matches], row[expected], rtol=1e-6)
    assert wl.search(queries, top_k=10, threshold=0.43) == [[] for _ in range(5)]  # random: nobody


def test_watchlist_several_images_per_identity(embedder: kuzet.FaceEmbedder, detector: kuzet.FaceDetector,
                                               people: dict[str, np.ndarray]) -> None:
    pipeline = kuzet.FacePipeline(detector=detector, embedder=embedder, watchlist=Watchlist())
    assert pipeline.enrol("obama", [people["obama.jpg"], people["obama-240p.jpg"]]) == 2
    assert pipeline.watchlist is not None and pipeline.watchlist.identities == ["obama"]
    with pytest.raises(kuzet.InvalidArgument, match="no face"):
        pipeline.enrol("nobody", [np.full((200, 200, 3), 90, np.uint8)])
    assert pipeline.process([people["obama2.jpg"]])[0][0].identity == "obama"


def test_watchlist_enrol_images_directly(embedder: kuzet.FaceEmbedder, detector: kuzet.FaceDetector,
                                         people: dict[str, np.ndarray]) -> None:
    wl = Watchlist()
    assert wl.enrol_images("obama", [people["obama.jpg"], people["obama-240p.jpg"]], detector=detector,
                           embedder=embedder) == 2
    assert wl.enrol_images("biden", [people["biden.jpg"]], detector=detector, embedder=embedder) == 1
    query = embedder.embed([people["obama2.jpg"]], detector.detect([people["obama2.jpg"]]))
    found = wl.search(query, top_k=2, threshold=-1.0, model_id=embedder.model_id)[0]
    assert [m.identity for m in found] == ["obama", "biden"] and found[0].similarity > 0.6 > found[1].similarity
    with pytest.raises(kuzet.InvalidArgument, match="no images"):
        wl.enrol_images("x", [], detector=detector, embedder=embedder)
    # many queries at once go through in blocks, same answers as one by one
    many = np.repeat(query, 1000, axis=0)
    for r in wl.search(many, model_id=embedder.model_id):
        assert [m.identity for m in r] == ["obama"] and r[0].similarity == pytest.approx(found[0].similarity, abs=1e-5)
