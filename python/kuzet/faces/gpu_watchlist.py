"""Watchlist templates on a GPU (CuPy, imported lazily: kuzet does not depend on it): one GEMM per block of
queries plus a partition, on the device; only the candidates (each query's top_k and any tied with its k-th)
come back to the host, which orders them as the CPU search does (best first, ties by enrolment order)."""

from __future__ import annotations

from typing import Any

import numpy as np

from kuzet.errors import InvalidArgument, KuzetError

GPU_DTYPES = ("float32", "float16")
# FacePipeline's watchlist_device="auto" searches on the GPU from this many identities up.
GPU_WATCHLIST_MIN = 10_000


def import_cupy() -> Any:
    try:
        import cupy  # optional: only device="cuda" searches need it
    except ImportError as exc:
        raise KuzetError("Watchlist.search(device='cuda') needs CuPy (pip install cupy-cuda13x, or the CuPy of your "
                         f"CUDA), which is not installed ({exc}); use device='cpu'") from exc
    return cupy


def cupy_available() -> bool:
    try:
        import_cupy()
    except KuzetError:
        return False
    return True


def parse_cuda_device(device: str) -> int:
    if device == "cuda":
        return 0
    index = device.partition(":")[2]
    if not device.startswith("cuda:") or not index.isdigit():
        raise InvalidArgument(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return int(index)


class GpuTemplates:
    """The (K,D) template matrix in GPU memory as float32 or float16 (half the memory; cuBLAS accumulates in
    float32 but the similarities come out rounded to float16, ~1e-3, as Watchlist.search says)."""

    def __init__(self, matrix: np.ndarray, device: str, dtype: str) -> None:
        if dtype not in GPU_DTYPES:
            raise InvalidArgument(f"dtype must be one of {GPU_DTYPES}, got {dtype!r}")
        self.cp = import_cupy()
        self.device_id = parse_cuda_device(device)
        self.dtype = dtype
        try:
            with self.cp.cuda.Device(self.device_id):
                self.matrix = self.cp.asarray(np.ascontiguousarray(matrix, dtype))
        except Exception as exc:  # CuPy's own errors: no such device, out of memory, no CUDA
            raise KuzetError(f"cannot put the watchlist on cuda:{self.device_id} with CuPy: {exc}") from exc

    def top_k(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q,k) rows best first, equal similarities by row (enrolment order), and their similarities, as
        host arrays; k <= the number of templates."""
        cp = self.cp
        try:
            with cp.cuda.Device(self.device_id):
                qd = cp.asarray(q, self.dtype)
                sims = cp.matmul(qd, self.matrix.T).astype(cp.float32)  # one cuBLAS GEMM
                n = sims.shape[1]
                kth = cp.partition(sims, n - k, axis=1)[:, n - k : n - k + 1]  # each row's k-th best
                # The k best, plus any tied with the k-th (which a partition would pick among arbitrarily)
                rows, cols = cp.nonzero(sims >= kth)
                vals = sims[rows, cols]
                rows, cols, vals = cp.asnumpy(rows), cp.asnumpy(cols), cp.asnumpy(vals)
        except Exception as exc:  # CuPy's own errors (out of memory, a kernel CuPy cannot compile: no NVRTC)
            raise KuzetError(f"watchlist search on cuda:{self.device_id} (CuPy) failed: {exc}") from exc
        return first_k_per_row(rows, cols, vals, len(q), k)


def first_k_per_row(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int,
                    k: int) -> tuple[np.ndarray, np.ndarray]:
    """From candidates (at least k per row): each row's k best by similarity, then column, as (n_rows,k)."""
    order = np.lexsort((cols, -vals, rows))
    starts = np.searchsorted(rows[order], np.arange(n_rows))
    pick = order[starts[:, None] + np.arange(k)]
    return cols[pick].astype(np.int64), vals[pick]


__all__ = ["GpuTemplates", "GPU_DTYPES", "GPU_WATCHLIST_MIN", "cupy_available", "import_cupy", "parse_cuda_device"]
