"""Watchlist templates on a GPU (CuPy, imported lazily: kuzet does not depend on it): one GEMM per block of
queries plus an argpartition, on the device; only the (Q, top_k) candidates come back to the host, where the
CPU path's ranking (Watchlist._rank: threshold, best first, ties by enrolment order) makes the results."""

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
        """(Q,k) candidate rows and their similarities (unordered), as host arrays."""
        cp = self.cp
        try:
            with cp.cuda.Device(self.device_id):
                qd = cp.asarray(q, self.dtype)
                sims = cp.matmul(qd, self.matrix.T).astype(cp.float32)  # one cuBLAS GEMM
                n = sims.shape[1]
                top = cp.argpartition(-sims, k - 1, axis=1)[:, :k] if k < n else cp.tile(cp.arange(n), (len(q), 1))
                top_sims = cp.take_along_axis(sims, top, axis=1)
                return cp.asnumpy(top), cp.asnumpy(top_sims)
        except Exception as exc:  # CuPy's own errors (out of memory, a kernel CuPy cannot compile: no NVRTC)
            raise KuzetError(f"watchlist search on cuda:{self.device_id} (CuPy) failed: {exc}") from exc


__all__ = ["GpuTemplates", "GPU_DTYPES", "GPU_WATCHLIST_MIN", "cupy_available", "import_cupy", "parse_cuda_device"]
