"""A watchlist of enrolled identities, persisted in SQLite, searched by cosine similarity.

Every enrolled embedding is stored (so templates can be rebuilt); each identity is searched through one
template, the re-normalised mean of its embeddings, kept in a contiguous float32 matrix so a search is one
BLAS matrix product plus kuzet's native top-k selection (kuzet._core.top_k_similar), fast at 100,000+
identities (on device="cuda" the matrix stays in GPU memory and the product runs there:
kuzet/faces/gpu_watchlist.py). The watchlist records the embedder's model id and refuses embeddings from any
other model: they live in a different space.

Thread safety: searches run concurrently with each other and with enrolment or removal. Writers take a lock;
every search works on one immutable snapshot of (names, templates), swapped in whole by the writer, so a
search sees the watchlist either before or after a change, never half of it.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kuzet import _native
from kuzet.errors import InvalidArgument, KuzetError, ModelError
from kuzet.faces.images import Images

if TYPE_CHECKING:
    from kuzet.faces.detector import FaceDetector
    from kuzet.faces.embedder import FaceEmbedder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS embeddings (
    id INTEGER PRIMARY KEY, identity TEXT NOT NULL, vector BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS embeddings_identity ON embeddings (identity);
"""
_TABLES = {"meta", "embeddings"}


@dataclass(frozen=True)
class WatchlistMatch:
    identity: str
    similarity: float


@dataclass(frozen=True)
class _Snapshot:
    """What one search reads: names[i] is the identity of templates[i] (a read-only (K,D) float32 view)."""

    names: tuple[str, ...]
    templates: np.ndarray


class Watchlist:
    """Identities and their face embeddings. path=None keeps it in memory only; create=False refuses a path
    that does not exist yet (a mistyped watchlist would otherwise be an empty one that matches nobody)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, model_id: str | None = None,
                 create: bool = True) -> None:
        self.path = None if path is None else Path(path)
        if self.path is not None and not create and not self.path.is_file():
            raise KuzetError(f"watchlist {self.path}: no such file (enrol identities into it first: kuzet enrol)")
        self._lock = threading.RLock()  # writers; searches read self._snapshot without it
        self._db = self._open_database()
        try:
            meta, names, vectors = self._read_database()
        except BaseException:
            self._db.close()
            raise
        stored = meta.get("model_id")
        if stored is not None and model_id is not None and stored != model_id:
            self._db.close()
            raise ModelError(f"watchlist {self.path} holds embeddings of model {stored!r}, not {model_id!r}")
        self.model_id: str | None = stored or model_id
        self.dim: int | None = int(meta["dim"]) if "dim" in meta else None
        self._names: list[str] = []
        self._row: dict[str, int] = {}
        # Each identity's template (the normalised mean of its normalised embeddings) in the first
        # len(_names) rows of a buffer with room to grow, so that adding identities costs what they add.
        self._templates = np.zeros((0, self.dim or 0), np.float32)
        self._snapshot = _Snapshot((), self._templates)
        self._gpu: tuple[_Snapshot, Any] | None = None  # GpuTemplates of a snapshot, made by device="cuda"
        if names:
            self._add(names, vectors)

    def _open_database(self) -> sqlite3.Connection:
        where = ":memory:" if self.path is None else str(self.path)
        try:
            db = sqlite3.connect(where, check_same_thread=False)  # used under self._lock only
        except sqlite3.Error as exc:
            raise KuzetError(f"watchlist {self.path}: cannot open ({exc})") from exc
        try:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not _TABLES <= tables:
                raise KuzetError(f"watchlist {self.path}: an SQLite database of something else, not a kuzet "
                                 f"watchlist (its tables: {', '.join(sorted(tables))})")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            db.close()
            raise KuzetError(f"watchlist {self.path}: not a readable watchlist database ({exc})") from exc
        except BaseException:
            db.close()
            raise
        return db

    def _read_database(self) -> tuple[dict[str, str], list[str], np.ndarray]:
        """The meta table, and every embedding row's identity and vector (n, dim), checked: a damaged file is
        refused, naming the row."""
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            rows = self._db.execute("SELECT id, identity, vector FROM embeddings ORDER BY id").fetchall()
        except sqlite3.Error as exc:
            raise KuzetError(f"watchlist {self.path}: cannot be read ({exc})") from exc
        if not rows:
            return meta, [], np.zeros((0, 0), np.float32)
        if "model_id" not in meta or not str(meta.get("dim", "")).isdigit() or int(meta["dim"]) < 1:
            raise KuzetError(f"watchlist {self.path}: holds embeddings but no valid model id and dimension "
                             f"(meta: {meta}); it was not written by kuzet or is damaged")
        size = 4 * int(meta["dim"])
        for row_id, identity, vector in rows:
            if not isinstance(identity, str) or not identity:
                raise KuzetError(f"watchlist {self.path}: embedding row {row_id} has no identity name")
            if not isinstance(vector, bytes) or len(vector) != size:
                got = len(vector) if isinstance(vector, bytes) else type(vector).__name__
                raise KuzetError(f"watchlist {self.path}: embedding row {row_id} ({identity!r}) is {got} bytes, "
                                 f"not {size} (dimension {meta['dim']} float32): damaged")
        vectors = np.frombuffer(b"".join(r[2] for r in rows), np.float32).reshape(len(rows), -1)
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            row_id, identity, _ = rows[int(np.argmin(finite))]
            raise KuzetError(f"watchlist {self.path}: embedding row {row_id} ({identity!r}) holds NaN or "
                             "infinity: damaged")
        return meta, [r[1] for r in rows], vectors

    # -- enrolment -------------------------------------------------------------------------------------
    def enrol(self, identity: str, embeddings: np.ndarray, *, model_id: str) -> None:
        """Add one or more embeddings (D,) or (n,D) of one identity."""
        if not isinstance(identity, str) or not identity:
            raise InvalidArgument("identity must be a non-empty string")
        emb = np.asarray(embeddings, np.float32)
        emb = emb.reshape(1, -1) if emb.ndim == 1 else emb
        self.enrol_many([identity] * len(emb), emb, model_id=model_id)

    def enrol_images(self, identity: str, images: Images, *, detector: FaceDetector,
                     embedder: FaceEmbedder) -> int:
        """Enrol the largest face of each image (one or many photos of one person). Returns the count."""
        from kuzet.faces.pipeline import largest_face_embeddings  # the pipeline module imports this one

        emb = largest_face_embeddings(detector, embedder, images, identity)
        self.enrol(identity, emb, model_id=embedder.model_id)
        return len(emb)

    def enrol_many(self, identities: Sequence[str], embeddings: np.ndarray, *, model_id: str) -> None:
        """Bulk enrolment: identities[i] gets embeddings[i]. One transaction."""
        if isinstance(identities, str | bytes):
            raise InvalidArgument("identities must be a sequence of names, not one string")
        names = list(identities)
        bad = next((n for n in names if not isinstance(n, str) or not n), None)
        if bad is not None:
            raise InvalidArgument(f"identities must be non-empty strings, got {bad!r}")
        if not isinstance(model_id, str) or not model_id:
            raise InvalidArgument(f"model_id must be a non-empty string, got {model_id!r}")
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) != len(names) or emb.shape[1] == 0:
            raise InvalidArgument(f"embeddings must be (n,D) with n = len(identities) = {len(names)}, "
                                  f"got shape {emb.shape}")
        if not np.all(np.isfinite(emb)):
            raise InvalidArgument("embeddings contain NaN or infinity")
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise InvalidArgument("an embedding is all zeros")
        emb = np.ascontiguousarray(emb / norms, np.float32)
        with self._lock:
            self._check_model(model_id)
            if self.dim is not None and emb.shape[1] != self.dim:
                raise InvalidArgument(f"embeddings have dimension {emb.shape[1]}, this watchlist holds {self.dim}")
            model, dim = self.model_id or model_id, self.dim or emb.shape[1]
            self._write(lambda db: (
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [("model_id", model), ("dim", str(dim))]),
                db.executemany("INSERT INTO embeddings (identity, vector) VALUES (?, ?)",
                               [(n, e.tobytes()) for n, e in zip(names, emb, strict=True)])))
            self.model_id, self.dim = model, dim
            self._add(names, emb)

    def remove(self, identity: str) -> None:
        with self._lock:
            if identity not in self._row:
                raise InvalidArgument(f"identity {identity!r} is not enrolled")
            self._write(lambda db: db.execute("DELETE FROM embeddings WHERE identity = ?", (identity,)))
            row = self._row.pop(identity)
            count = len(self._names)
            self._names.pop(row)
            # A new buffer: searches still running read the old one through their snapshot.
            self._templates = np.delete(self._templates[:count], row, axis=0)
            self._row = {n: i for i, n in enumerate(self._names)}
            self._publish()

    def _write(self, change: Any) -> None:
        """Runs change(db) in one transaction; SQLite's errors (a locked or read-only file, a full disk) become
        KuzetError naming the watchlist, and nothing is changed in memory."""
        try:
            with self._db:
                change(self._db)
        except sqlite3.Error as exc:
            raise KuzetError(f"watchlist {self.path}: cannot write ({exc}); nothing was changed") from exc

    # -- search ----------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, *, top_k: int = 1, threshold: float = 0.43,
               model_id: str | None = None, device: str = "cpu",
               dtype: str = "float32") -> list[list[WatchlistMatch]]:
        """For each query embedding (Q,D): up to top_k identities with cosine similarity >= threshold, best
        first (equal similarities: earlier enrolled first). Queries are L2-normalised here; a query with NaN,
        infinity or all zeros is refused (it has no direction to compare).

        device="cuda"/"cuda:N" searches templates kept in GPU memory (needs CuPy), as `dtype` ("float32", or
        "float16": half the memory, similarities within ~1e-3 of float32, so a match right at the threshold
        may flip); same results as the CPU otherwise."""
        if device != "cpu":
            from kuzet.faces.gpu_watchlist import GPU_DTYPES, parse_cuda_device

            parse_cuda_device(device)
            if dtype not in GPU_DTYPES:
                raise InvalidArgument(f"dtype must be one of {GPU_DTYPES}, got {dtype!r}")
        elif dtype != "float32":
            raise InvalidArgument(f"dtype {dtype!r}: the CPU search is float32 only")
        if isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 1:
            raise InvalidArgument(f"top_k must be an integer >= 1, got {top_k!r}")
        if not isinstance(threshold, int | float | np.number) or math.isnan(threshold):
            raise InvalidArgument(f"threshold must be a number, got {threshold!r}")
        if model_id is not None:
            self._check_model(model_id)
        q = np.asarray(queries, np.float32)
        q = q.reshape(1, -1) if q.ndim == 1 else q
        if q.ndim != 2:
            raise InvalidArgument(f"queries must be (Q,D), got shape {q.shape}")
        if not np.all(np.isfinite(q)):
            raise InvalidArgument("queries contain NaN or infinity")
        snapshot = self._snapshot  # one consistent (names, templates) for the whole search
        if len(q) == 0 or not snapshot.names:
            return [[] for _ in range(len(q))]
        if q.shape[1] != snapshot.templates.shape[1]:
            raise InvalidArgument(f"queries have dimension {q.shape[1]}, this watchlist holds "
                                  f"{snapshot.templates.shape[1]}")
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise InvalidArgument("a query embedding is all zeros")
        q = q / norms
        k = min(int(top_k), len(snapshot.names))
        if device == "cpu":
            def best(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return _native.core.top_k_similar(block @ snapshot.templates.T, k, threshold=float(threshold))
        else:
            gpu = self._gpu_templates(snapshot, device, dtype)

            def best(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                return gpu.top_k(block, k)
        out: list[list[WatchlistMatch]] = []
        for start, stop in query_blocks(len(q), len(snapshot.names)):
            # (Q,k) columns best first (ties by column: enrolment order), -1 where fewer qualify
            columns, sims = best(q[start:stop])
            out += [[WatchlistMatch(snapshot.names[j], s) for j, s in zip(row_j, row_s, strict=True)
                     if j >= 0 and s >= threshold]
                    for row_j, row_s in zip(columns.tolist(), sims.tolist(), strict=True)]
        return out

    def _gpu_templates(self, snapshot: _Snapshot, device: str, dtype: str) -> Any:
        from kuzet.faces.gpu_watchlist import GpuTemplates, parse_cuda_device

        cached = self._gpu
        if (cached is None or cached[0] is not snapshot or cached[1].device_id != parse_cuda_device(device)
                or cached[1].dtype != dtype):
            cached = self._gpu = (snapshot, GpuTemplates(snapshot.templates, device, dtype))
        return cached[1]

    # -- state -----------------------------------------------------------------------------------------
    @property
    def identities(self) -> list[str]:
        return list(self._snapshot.names)

    @property
    def matrix(self) -> np.ndarray:
        """(K,D) float32 C-contiguous identity templates (read-only), row i for identities[i]."""
        return self._snapshot.templates

    def __len__(self) -> int:
        return len(self._snapshot.names)

    def __contains__(self, identity: object) -> bool:
        return identity in self._row

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Watchlist:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_model(self, model_id: str) -> None:
        if self.model_id is not None and model_id != self.model_id:
            raise ModelError(f"watchlist holds embeddings of model {self.model_id!r}; refusing embeddings of "
                             f"model {model_id!r}")

    def _add(self, names: list[str], vectors: np.ndarray) -> None:
        """Adds normalised embeddings to their identities (new identities get new rows at the end) and
        publishes the new templates. Called under the lock after the rows are in the database (or from the
        constructor with every row of it)."""
        dim = vectors.shape[1]
        count = len(self._names)
        new = [n for n in dict.fromkeys(names) if n not in self._row]
        existing = [n for n in dict.fromkeys(names) if n in self._row]
        needed = count + len(new)
        if needed > len(self._templates) or existing or self._templates.shape[1] != dim:
            # A new buffer (room to grow by half again) when full, and whenever an enrolled identity's row
            # changes: a running search may be reading the old one through its snapshot.
            templates = np.zeros((max(needed, count + count // 2, 16), dim), np.float32)
            if count:
                templates[:count] = self._templates[:count]
            self._templates = templates
        for n in new:
            self._row[n] = len(self._names)
            self._names.append(n)
        if len(new) == len(names):  # bulk enrolment of new, distinct identities: rows in order, as they are
            self._templates[count:needed] = vectors
        elif new:
            local = {n: i for i, n in enumerate(new)}
            picked = [i for i, n in enumerate(names) if n in local]
            sums = np.zeros((len(new), dim), np.float32)
            np.add.at(sums, [local[names[i]] for i in picked], vectors[picked])
            self._templates[count:needed] = _normalised(sums)
        if existing:  # their means include embeddings enrolled before: summed from the database (rarely many)
            sums = np.stack([self._stored_sum(n, dim) for n in existing])
            self._templates[[self._row[n] for n in existing]] = _normalised(sums)
        self._publish()

    def _stored_sum(self, identity: str, dim: int) -> np.ndarray:
        blobs = self._db.execute("SELECT vector FROM embeddings WHERE identity = ?", (identity,)).fetchall()
        return np.frombuffer(b"".join(b[0] for b in blobs), np.float32).reshape(-1, dim).sum(axis=0)

    def _publish(self) -> None:
        view = self._templates[: len(self._names)]
        view.flags.writeable = False
        self._snapshot = _Snapshot(tuple(self._names), view)


def _normalised(rows: np.ndarray) -> np.ndarray:
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def query_blocks(queries: int, identities: int, budget_bytes: int = 1 << 28) -> list[tuple[int, int]]:
    """[start, stop) ranges of queries whose (block, identities) float32 similarity matrix fits the budget
    (256 MiB: 64 queries at 2**20 identities), at least one query per block."""
    block = max(1, budget_bytes // (4 * max(1, identities)))
    return [(a, min(a + block, queries)) for a in range(0, queries, block)]


__all__ = ["Watchlist", "WatchlistMatch"]
