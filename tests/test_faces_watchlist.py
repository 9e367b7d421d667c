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


# -- search edge cases, damaged files, concurrent use ---------------------------------------------------------------
def test_native_top_k_equals_a_stable_sort() -> None:
    rng = np.random.default_rng(3)
    sims = rng.integers(-4, 5, (40, 300)).astype(np.float32) / 4  # many ties
    sims[5, ::7] = np.nan
    for k, threshold in ((1, -np.inf), (7, 0.25), (300, -np.inf), (400, 0.5), (3, 2.0)):
        columns, values = kuzet._core.top_k_similar(sims, k, threshold=threshold)
        assert columns.shape == values.shape == (40, min(k, 300))
        for row, cols, vals in zip(sims, columns, values, strict=True):
            keep = np.flatnonzero(row >= threshold)  # NaN is never >= anything
            expected = keep[np.argsort(-row[keep], kind="stable")][:k]
            assert list(cols[: len(expected)]) == list(expected) and np.all(cols[len(expected):] == -1)
            assert np.array_equal(vals[: len(expected)], row[expected]) and np.all(np.isnan(vals[len(expected):]))
    for bad, match in ((sims.astype(np.float64), "float32"), (sims[0], "dimensions"), (sims[:, ::2], "contiguous")):
        with pytest.raises(kuzet.InvalidArgument, match=match):
            kuzet._core.top_k_similar(bad, 3)
    with pytest.raises(kuzet.InvalidArgument, match="k must be"):
        kuzet._core.top_k_similar(sims, 0)


def test_search_ties_at_the_kth_place_go_to_the_earliest_enrolled() -> None:
    rng = np.random.default_rng(4)
    wl = Watchlist()
    wl.enrol_many([f"id{i}" for i in range(2000)], rng.standard_normal((2000, 16)), model_id="m")
    same = rng.standard_normal(16).astype(np.float32)
    for name in ("late3", "late700", "late1500"):
        wl.enrol(name, same, model_id="m")
    assert [m.identity for m in wl.search(same, top_k=1)[0]] == ["late3"]
    assert [m.identity for m in wl.search(same, top_k=2)[0]] == ["late3", "late700"]


def test_search_refuses_queries_and_thresholds_that_cannot_match() -> None:
    wl = Watchlist()
    wl.enrol_many(["a", "b"], np.eye(2, 4, dtype=np.float32), model_id="m")
    for query, match in ((np.array([np.nan, 0, 0, 0]), "NaN"), (np.array([np.inf, 0, 0, 0]), "NaN"),
                         (np.zeros(4), "all zeros")):
        with pytest.raises(kuzet.InvalidArgument, match=match):
            wl.search(query, threshold=-1.0)
    for kwargs in ({"threshold": float("nan")}, {"threshold": "0.5"}, {"top_k": True}, {"top_k": 1.5}):
        with pytest.raises(kuzet.InvalidArgument):
            wl.search(np.ones(4), **kwargs)  # type: ignore[arg-type]
    assert [m.identity for m in wl.search(np.array([1, 0.1, 0, 0]), top_k=2, threshold=-np.inf)[0]] == ["a", "b"]


def test_enrol_refuses_bad_names_and_model_ids() -> None:
    wl = Watchlist()
    with pytest.raises(kuzet.InvalidArgument, match="sequence of names"):
        wl.enrol_many("ab", np.ones((2, 4)), model_id="m")
    with pytest.raises(kuzet.InvalidArgument, match="non-empty strings"):
        wl.enrol_many(["a", 1], np.ones((2, 4)), model_id="m")  # type: ignore[list-item]
    with pytest.raises(kuzet.InvalidArgument, match="model_id"):
        wl.enrol("a", np.ones(4), model_id=None)  # type: ignore[arg-type]
    assert len(wl) == 0 and wl.model_id is None


def test_watchlist_files_that_are_missing_foreign_or_damaged(tmp_path: Path) -> None:
    import sqlite3

    with pytest.raises(kuzet.KuzetError, match="no such file"):
        Watchlist(tmp_path / "typo.db", create=False)
    assert not (tmp_path / "typo.db").exists()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(kuzet.KuzetError, match="not a kuzet watchlist.*people"):
        Watchlist(other)
    with sqlite3.connect(other) as db:  # left as it was
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["people"]

    def damaged(name: str, change: str, *args: object) -> Path:
        path = tmp_path / name
        with Watchlist(path) as wl:
            wl.enrol_many(["a", "b"], np.eye(2, 4, dtype=np.float32), model_id="m")
        with sqlite3.connect(path) as db:
            db.execute(change, args)
        return path

    cases = [
        (damaged("no_model.db", "DELETE FROM meta WHERE key = 'model_id'"), "no valid model id"),
        (damaged("short.db", "UPDATE embeddings SET vector = ? WHERE identity = 'b'", b"\0" * 8),
         "row 2 .'b'. is 8 bytes"),
        (damaged("nan.db", "UPDATE embeddings SET vector = ? WHERE identity = 'a'",
                 np.array([np.nan, 0, 0, 0], np.float32).tobytes()), "row 1 .'a'. holds NaN"),
        (damaged("dim.db", "UPDATE meta SET value = '3' WHERE key = 'dim'"), "not 12"),
    ]
    for path, match in cases:
        with pytest.raises(kuzet.KuzetError, match=match):
            Watchlist(path)
    with pytest.raises(kuzet.ModelError, match="holds embeddings of model 'm'"):
        Watchlist(damaged("good.db", "SELECT 1"), model_id="other")


def test_a_write_that_sqlite_refuses_changes_nothing(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "wl.db"
    wl = Watchlist(path)
    wl.enrol("a", np.ones(4), model_id="m")
    locker = sqlite3.connect(path)
    locker.execute("BEGIN EXCLUSIVE")
    wl._db.execute("PRAGMA busy_timeout = 50")
    with pytest.raises(kuzet.KuzetError, match="cannot write .*locked.*nothing was changed"):
        wl.enrol("b", np.ones(4), model_id="m")
    with pytest.raises(kuzet.KuzetError, match="locked"):
        wl.remove("a")
    locker.rollback()
    locker.close()
    assert wl.identities == ["a"] and wl.matrix.shape == (1, 4)
    wl.enrol("b", -np.ones(4), model_id="m")
    assert Watchlist(path).identities == ["a", "b"]


def test_incremental_enrolment_equals_bulk_and_the_matrix_is_read_only() -> None:
    rng = np.random.default_rng(5)
    emb = rng.standard_normal((300, 8)).astype(np.float32)
    names = [f"p{i % 120}" for i in range(300)]  # 120 identities, some with 3 embeddings
    bulk = Watchlist()
    bulk.enrol_many(names, emb, model_id="m")
    one_by_one = Watchlist()
    for name, e in zip(names, emb, strict=True):
        one_by_one.enrol(name, e, model_id="m")
    assert one_by_one.identities == bulk.identities == [f"p{i}" for i in range(120)]
    np.testing.assert_allclose(one_by_one.matrix, bulk.matrix, atol=1e-6)
    with pytest.raises(ValueError):
        bulk.matrix[0, 0] = 1.0


def test_searches_running_while_identities_come_and_go_see_whole_states() -> None:
    import threading

    rng = np.random.default_rng(6)
    n = 20_000
    emb = rng.standard_normal((n, 64)).astype(np.float32)
    wl = Watchlist()
    wl.enrol_many([f"p{i}" for i in range(n)], emb, model_id="m")
    probes = list(range(n // 2, n, 997))  # never removed
    wrong: list[tuple[str, str]] = []
    done = threading.Event()

    def search() -> None:
        while not done.is_set():
            try:
                found = wl.search(emb[probes], top_k=1)
            except Exception as exc:  # a search must not fail half-way through a change either
                wrong.append(("error", repr(exc)))
                return
            for i, matches in zip(probes, found, strict=True):
                if not matches or matches[0].identity != f"p{i}":
                    wrong.append((f"p{i}", matches[0].identity if matches else "nobody"))

    searchers = [threading.Thread(target=search) for _ in range(2)]
    for t in searchers:
        t.start()
    for i in range(0, 60):
        wl.remove(f"p{i}")  # shifts every later row
        wl.enrol(f"new{i}", rng.standard_normal(64), model_id="m")
        wl.enrol(f"p{n - 1 - i}", emb[n - 1 - i], model_id="m")  # a second embedding of an enrolled identity
    done.set()
    for t in searchers:
        t.join()
    assert wrong == []
    assert len(wl) == n and "p0" not in wl and "new59" in wl
