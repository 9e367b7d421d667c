"""Runs a model over batches: on CUDA as one batched run, on a CPU as small runs spread over the cores.

Measured on the 2-core dev box with single-threaded sessions: a batch costs MORE per item than single
items on a CPU (detector 14 ms/frame at batch 1, 20 ms at batch 8; recogniser 24 ms/plate at batch 1,
39 ms at batch 8: the activations of a batch no longer fit the caches), and intra-op threads scale badly
on networks this small. So on a CPU the batch is split into runs of `cpu_chunk` items, run concurrently on
one single-threaded session per core (sessions are thread-safe; onnxruntime releases the GIL).
"""

from __future__ import annotations

import os

import numpy as np

from kuzet.models import ModelSpec, OrtModel, load_model
from kuzet.models.parallel import cpu_workers, in_pool_thread, shared_pool
from kuzet.models.session import choose_providers


def native_threads() -> int:
    """Threads for a native pre/post-processing call: 1 on a pool thread (the other cores run other items),
    else 0 (kuzet._core's default: all cores)."""
    return 1 if in_pool_thread() else 0


class ChunkedRunner:
    """Loads a model for `role` and runs batches through it (in chunks of `cpu_chunk` items on a CPU)."""

    def __init__(self, model: str | ModelSpec, *, role: str, model_dir: str | os.PathLike[str] | None,
                 path: str | os.PathLike[str] | None, device: str, threads: int | None, workers: int | None,
                 cpu_chunk: int = 1):
        on_cpu = choose_providers(device).device == "cpu"
        self.workers = max(1, workers if workers is not None else (cpu_workers() if on_cpu else 1))
        if threads is None and on_cpu and self.workers > 1:
            threads = 1  # parallelism comes from concurrent runs, one per core
        self.model: OrtModel = load_model(model, model_dir=model_dir, path=path, device=device, threads=threads,
                                          role=role)
        self.max_chunk = cpu_chunk if on_cpu else 1 << 30
        self._pool = shared_pool() if self.workers > 1 else None
        # Whether runs are single items spread over the CPU cores (so callers may overlap their stages).
        self.spreads_runs = on_cpu and self._pool is not None

    def run_many(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """First output of the model for each NCHW tensor (tensors may differ in shape)."""
        jobs: list[tuple[int, np.ndarray]] = []
        for t, tensor in enumerate(tensors):
            n = len(tensor)
            # Even chunks: 5 items on 2 workers -> 3 + 2, not 4 + 1.
            pieces = max(1, -(-n // self.max_chunk), min(n, self.workers) if len(tensors) == 1 else 1)
            jobs += [(t, tensor[s[0] : s[-1] + 1]) for s in np.array_split(np.arange(n), pieces) if len(s)]
        if self._pool is None or len(jobs) == 1 or in_pool_thread():
            outputs = [self._run(chunk) for _, chunk in jobs]
        else:
            outputs = list(self._pool.map(self._run, [chunk for _, chunk in jobs]))
        per_tensor: list[list[np.ndarray]] = [[] for _ in tensors]
        for (t, _), out in zip(jobs, outputs, strict=True):
            per_tensor[t].append(out)
        return [parts[0] if len(parts) == 1 else np.concatenate(parts) for parts in per_tensor]

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        return next(iter(self.model.run(np.ascontiguousarray(chunk)).values()))
