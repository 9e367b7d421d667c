"""A watchlist of enrolled identities, persisted in SQLite, searched by cosine similarity.

Every enrolled embedding is stored (so templates can be rebuilt); each identity is searched through one
template, the re-normalised mean of its embeddings, kept in a contiguous float32 matrix so a search is one
BLAS matrix product plus an argpartition, fast at 100,000+ identities (on device="cuda" the matrix stays in GPU
memory and the product and argpartition run there: kuzet/faces/gpu_watchlist.py). The watchlist records the embedder's
model id and refuses embeddings from any other model: they live in a different space.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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


@dataclass(frozen=True)
class WatchlistMatch:
    identity: str
    similarity: float


class Watchlist:
    """Identities and their face embeddings. path=None keeps it in memory only."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, model_id: str | None = None) -> None:
        self.path = None if path is None else Path(path)
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path))
            self._db.executescript(_SCHEMA)
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise KuzetError(f"watchlist {self.path}: not a readable watchlist database ({exc})") from exc
        stored = meta.get("model_id")
        if stored is not None and model_id is not None and stored != model_id:
            raise ModelError(f"watchlist {self.path} holds embeddings of model {stored!r}, not {model_id!r}")
        self.model_id: str | None = stored or model_id
        self.dim: int | None = int(meta["dim"]) if "dim" in meta else None
        self._names: list[str] = []
        self._row: dict[str, int] = {}
        self._sums = np.zeros((0, self.dim or 0), np.float64)
        self._matrix: np.ndarray | None = None
        self._gpu: Any = None  # GpuTemplates of the current matrix, made on the first device="cuda" search
        rows = self._db.execute("SELECT identity, vector FROM embeddings ORDER BY id").fetchall()
        if rows:
            vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
            self._add([r[0] for r in rows], vectors)

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
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2 or len(emb) != len(identities) or emb.shape[1] == 0:
            raise InvalidArgument(f"embeddings must be (n,D) with n = len(identities) = {len(identities)}, "
                                  f"got shape {emb.shape}")
        if not np.all(np.isfinite(emb)):
            raise InvalidArgument("embeddings contain NaN or infinity")
        self._check_model(model_id)
        if self.dim is not None and emb.shape[1] != self.dim:
            raise InvalidArgument(f"embeddings have dimension {emb.shape[1]}, this watchlist holds {self.dim}")
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise InvalidArgument("an embedding is all zeros")
        emb = np.ascontiguousarray(emb / norms, np.float32)
        with self._db:
            if self.model_id is None:
                self.model_id = model_id
            if self.dim is None:
                self.dim = emb.shape[1]
                self._sums = np.zeros((0, self.dim), np.float64)
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                 [("model_id", self.model_id), ("dim", str(self.dim))])
            self._db.executemany("INSERT INTO embeddings (identity, vector) VALUES (?, ?)",
                                 [(str(n), e.tobytes()) for n, e in zip(identities, emb, strict=True)])
        self._add(list(identities), emb)

    def remove(self, identity: str) -> None:
        if identity not in self._row:
            raise InvalidArgument(f"identity {identity!r} is not enrolled")
        with self._db:
            self._db.execute("DELETE FROM embeddings WHERE identity = ?", (identity,))
        row = self._row.pop(identity)
        self._names.pop(row)
        self._sums = np.delete(self._sums, row, axis=0)
        self._row = {n: i for i, n in enumerate(self._names)}
        self._matrix = None
        self._gpu = None

    # -- search ----------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, *, top_k: int = 1, threshold: float = 0.43,
               model_id: str | None = None, device: str = "cpu",
               dtype: str = "float32") -> list[list[WatchlistMatch]]:
        """For each query embedding (Q,D): up to top_k identities with cosine similarity >= threshold, best
        first (equal similarities: earlier enrolled first). Queries are L2-normalised here.

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
        if top_k < 1:
            raise InvalidArgument(f"top_k must be >= 1, got {top_k}")
        if model_id is not None:
            self._check_model(model_id)
        q = np.asarray(queries, np.float32)
        q = q.reshape(1, -1) if q.ndim == 1 else q
        if q.ndim != 2:
            raise InvalidArgument(f"queries must be (Q,D), got shape {q.shape}")
        if len(q) == 0 or not self._names:
            return [[] for _ in range(len(q))]
        if q.shape[1] != self.dim:
            raise InvalidArgument(f"queries have dimension {q.shape[1]}, this watchlist holds {self.dim}")
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        top_candidates = self._cpu_top_k if device == "cpu" else self._gpu_templates(device, dtype).top_k
        k = min(top_k, len(self._names))
        out: list[list[WatchlistMatch]] = []
        for start, stop in query_blocks(len(q), len(self._names)):
            top, top_sims = top_candidates(q[start:stop], k)
            out += self._rank(top, top_sims, threshold)
        return out

    def _cpu_top_k(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q,k) candidate rows and similarities, unordered: one BLAS product and an argpartition."""
        sims = q @ self.matrix.T  # (Q, K)
        if k < sims.shape[1]:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            top = np.broadcast_to(np.arange(k), (len(q), k))
        return top, np.take_along_axis(sims, top, axis=1)

    def _rank(self, top: np.ndarray, top_sims: np.ndarray, threshold: float) -> list[list[WatchlistMatch]]:
        """Matches from (Q,k) candidates: at or above threshold, best first, ties by row (enrolment order);
        the same for the CPU and GPU candidates."""
        order = np.lexsort((top, -top_sims), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_sims = np.take_along_axis(top_sims, order, axis=1)
        return [[WatchlistMatch(self._names[j], float(s)) for j, s in zip(row_j, row_s, strict=True) if s >= threshold]
                for row_j, row_s in zip(top.tolist(), top_sims.tolist(), strict=True)]

    def _gpu_templates(self, device: str, dtype: str) -> Any:
        from kuzet.faces.gpu_watchlist import GpuTemplates, parse_cuda_device

        gpu = self._gpu
        if (gpu is None or gpu.device_id != parse_cuda_device(device) or gpu.dtype != dtype
                or gpu.matrix.shape[0] != len(self._names)):
            gpu = self._gpu = GpuTemplates(self.matrix, device, dtype)
        return gpu

    # -- state -----------------------------------------------------------------------------------------
    @property
    def identities(self) -> list[str]:
        return list(self._names)

    @property
    def matrix(self) -> np.ndarray:
        """(K,D) float32 C-contiguous identity templates, row i for identities[i]."""
        if self._matrix is None:
            norms = np.linalg.norm(self._sums, axis=1, keepdims=True)
            self._matrix = np.ascontiguousarray(self._sums / np.maximum(norms, 1e-12), np.float32)
        return self._matrix

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, identity: object) -> bool:
        return identity in self._row

    def close(self) -> None:
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
        new = [n for n in dict.fromkeys(names) if n not in self._row]
        for n in new:
            self._row[n] = len(self._names)
            self._names.append(n)
        if new:
            self._sums = np.vstack([self._sums.reshape(-1, vectors.shape[1]),
                                    np.zeros((len(new), vectors.shape[1]))])
        rows = np.fromiter((self._row[n] for n in names), np.intp, len(names))
        np.add.at(self._sums, rows, vectors.astype(np.float64))
        self._matrix = None
        self._gpu = None


def query_blocks(queries: int, identities: int, budget_bytes: int = 1 << 28) -> list[tuple[int, int]]:
    """[start, stop) ranges of queries whose (block, identities) float32 similarity matrix fits the budget
    (256 MiB: 64 queries at 2**20 identities), at least one query per block."""
    block = max(1, budget_bytes // (4 * max(1, identities)))
    return [(a, min(a + block, queries)) for a in range(0, queries, block)]


__all__ = ["Watchlist", "WatchlistMatch"]
