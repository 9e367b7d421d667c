"""Data-parallel model runs: a batch is split into small chunks that run concurrently, each on a
single-threaded ONNX Runtime session. On CPUs this beats one big intra-op-parallel run: small convolutions
scale poorly across threads, and threads that meet at a barrier after every operator stall whenever one of
them is descheduled (a busy machine). ONNX Runtime releases the GIL while it runs."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_thread = threading.local()


def _mark_pool_thread() -> None:
    _thread.in_pool = True


def in_pool_thread() -> bool:
    """True on one of the shared pool's threads: work there runs inline, since a pool thread that waited
    for other pool tasks could wait forever (every thread waiting, none left to run them)."""
    return getattr(_thread, "in_pool", False)


def cpu_workers() -> int:
    """CPUs this process may use (KUZET_NUM_THREADS overrides)."""
    env = os.environ.get("KUZET_NUM_THREADS", "")
    if env.isdigit() and int(env) >= 1:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def shared_pool() -> ThreadPoolExecutor:
    """The process-wide pool for concurrent model runs (one thread per usable CPU), shared by every model."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=cpu_workers(), thread_name_prefix="kuzet-model",
                                       initializer=_mark_pool_thread)
        return _pool


def map_chunks(fn: Callable[[int, int], T], total: int, chunk: int, workers: int) -> list[T]:
    """[fn(start, stop) for each chunk of range(total)], run on up to `workers` threads, in order."""
    bounds = [(s, min(s + chunk, total)) for s in range(0, total, chunk)]
    if workers <= 1 or len(bounds) <= 1 or in_pool_thread():
        return [fn(a, b) for a, b in bounds]
    return list(shared_pool().map(lambda ab: fn(*ab), bounds))


__all__ = ["cpu_workers", "in_pool_thread", "map_chunks", "shared_pool"]
