"""Dynamic batcher: fills model batches across sources within a latency bound, with bounded queues.

Each source has its own bounded queue, so one fast source cannot starve the others and memory stays bounded:
a producer whose queue is full blocks (back-pressure) until the consumer takes frames. The consumer takes
frames round-robin across sources until the batch is full or `max_wait` has passed since the batch's first
frame.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DynamicBatcher(Generic[T]):
    def __init__(self, *, max_batch: int, max_wait: float, queue_size: int):
        if max_batch < 1 or queue_size < 1 or max_wait < 0:
            raise ValueError("max_batch and queue_size must be >= 1 and max_wait >= 0")
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue_size = queue_size
        self._cond = threading.Condition()
        self._queues: dict[str, deque[T]] = {}
        self._open: set[str] = set()
        self._order: list[str] = []
        self._next = 0
        self._stopped = False
        self._closed_unseen = False  # a source closed since the consumer last looked
        self._max_depth: dict[str, int] = {}

    def add_source(self, source: str) -> None:
        with self._cond:
            self._queues[source] = deque()
            self._open.add(source)
            self._order.append(source)

    def close_source(self, source: str) -> None:
        with self._cond:
            self._open.discard(source)
            self._closed_unseen = True
            self._cond.notify_all()

    def stop(self) -> None:
        """Wake every waiter; producers return False from put, the consumer gets None."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def put(self, source: str, item: T) -> bool:
        """Queue one item, blocking while the source's queue is full. False if the batcher was stopped."""
        with self._cond:
            queue = self._queues[source]
            while len(queue) >= self.queue_size and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return False
            queue.append(item)
            self._max_depth[source] = max(self._max_depth.get(source, 0), len(queue))
            self._cond.notify_all()
            return True

    def depths(self) -> dict[str, int]:
        with self._cond:
            return {name: len(q) for name, q in self._queues.items()}

    def max_depths(self) -> dict[str, int]:
        """The deepest each source's queue has been: never more than queue_size."""
        with self._cond:
            return dict(self._max_depth)

    def _pending(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def _take(self, batch: list[tuple[str, T]]) -> None:
        """Round-robin across sources, one item at a time, until the batch is full or the queues are empty."""
        n = len(self._order)
        empty_in_a_row = 0
        while len(batch) < self.max_batch and n and empty_in_a_row < n:
            name = self._order[self._next % n]
            self._next += 1
            queue = self._queues[name]
            if queue:
                batch.append((name, queue.popleft()))
                empty_in_a_row = 0
            else:
                empty_in_a_row += 1

    def get_batch(self) -> list[tuple[str, T]] | None:
        """Next batch of (source, item); None once every source is closed and drained, or on stop. An empty
        batch when a source has closed and nothing is queued: the consumer can end that source now rather
        than at the other sources' next frame (which a stalled camera may not send for a long time)."""
        with self._cond:
            while not self._pending():
                if self._stopped or not self._open:
                    return None
                if self._closed_unseen:
                    self._closed_unseen = False
                    return []
                self._cond.wait()
            if self._stopped:
                return None
            batch: list[tuple[str, T]] = []
            deadline = time.monotonic() + self.max_wait
            self._take(batch)
            while len(batch) < self.max_batch and self._open and not self._stopped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.notify_all()  # producers blocked on a full queue may go on
                self._cond.wait(remaining)
                self._take(batch)
            self._cond.notify_all()
            return batch
