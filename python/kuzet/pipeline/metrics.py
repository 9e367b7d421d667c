"""Per-stage timings, per-source counters and queue depths, readable from Python and as Prometheus text."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field


@dataclass
class StageStats:
    calls: int = 0
    items: int = 0
    seconds: float = 0.0
    max_seconds: float = 0.0


@dataclass
class SourceStats:
    state: str = "pending"  # pending | running | reconnecting | finished | failed | stopped
    decoded: int = 0
    analysed: int = 0
    sampled_out: int = 0
    dropped: int = 0  # frames a live source's buffer dropped (drop-oldest policy)
    corrupt: int = 0
    reconnects: int = 0
    error: str | None = None
    last_pts: float | None = None
    decoder: str | None = None  # where the frames were decoded: "cpu" or "cuda:N" (NVDEC); None: a custom source
    gpu_frames: bool = False  # frames handed to the tasks in GPU memory (never copied to the host)
    extra: dict[str, float] = field(default_factory=dict)


class Metrics:
    """Thread-safe counters shared by the pipeline's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stages: dict[str, StageStats] = {}
        self.sources: dict[str, SourceStats] = {}
        self._gauges: dict[str, Callable[[], dict[str, int]]] = {}
        self.started = time.monotonic()

    @contextmanager
    def stage(self, name: str, items: int = 1) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                s = self.stages.setdefault(name, StageStats())
                s.calls += 1
                s.items += items
                s.seconds += elapsed
                s.max_seconds = max(s.max_seconds, elapsed)

    def source(self, name: str) -> SourceStats:
        with self._lock:
            return self.sources.setdefault(name, SourceStats())

    def update_source(self, name: str, **changes: object) -> None:
        with self._lock:
            stats = self.sources.setdefault(name, SourceStats())
            for key, value in changes.items():
                setattr(stats, key, value)

    def add(self, name: str, **increments: int) -> None:
        with self._lock:
            stats = self.sources.setdefault(name, SourceStats())
            for key, value in increments.items():
                setattr(stats, key, getattr(stats, key) + value)

    def register_gauge(self, name: str, read: Callable[[], dict[str, int]]) -> None:
        """A gauge read on demand, e.g. queue depth per source."""
        self._gauges[name] = read

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            stages = {k: asdict(v) for k, v in self.stages.items()}
            sources = {k: asdict(v) for k, v in self.sources.items()}
        gauges = {name: read() for name, read in self._gauges.items()}
        return {"uptime_seconds": time.monotonic() - self.started, "stages": stages, "sources": sources,
                "gauges": gauges}

    def prometheus(self) -> str:
        """The snapshot in Prometheus text exposition format (version 0.0.4)."""
        snap = self.snapshot()
        lines = [
            "# HELP kuzet_stage_seconds_total Time spent in each pipeline stage.",
            "# TYPE kuzet_stage_seconds_total counter",
        ]
        stages = snap["stages"]
        sources = snap["sources"]
        gauges = snap["gauges"]
        assert isinstance(stages, dict) and isinstance(sources, dict) and isinstance(gauges, dict)
        for name, s in sorted(stages.items()):
            lines.append(f'kuzet_stage_seconds_total{{stage="{_esc(name)}"}} {s["seconds"]:.6f}')
        lines += ["# HELP kuzet_stage_items_total Items (frames, faces, plates) processed by each stage.",
                  "# TYPE kuzet_stage_items_total counter"]
        for name, s in sorted(stages.items()):
            lines.append(f'kuzet_stage_items_total{{stage="{_esc(name)}"}} {s["items"]}')
        for counter in ("decoded", "analysed", "sampled_out", "dropped", "corrupt"):
            lines += [f"# HELP kuzet_source_frames_{counter}_total Frames {counter.replace('_', ' ')} per source.",
                      f"# TYPE kuzet_source_frames_{counter}_total counter"]
            for name, s in sorted(sources.items()):
                lines.append(f'kuzet_source_frames_{counter}_total{{source="{_esc(name)}"}} {s[counter]}')
        lines += ["# HELP kuzet_source_reconnects_total Times a live source reconnected.",
                  "# TYPE kuzet_source_reconnects_total counter"]
        for name, s in sorted(sources.items()):
            lines.append(f'kuzet_source_reconnects_total{{source="{_esc(name)}"}} {s["reconnects"]}')
        lines += ["# HELP kuzet_source_info Where each source is decoded and whether its frames stay on the GPU.",
                  "# TYPE kuzet_source_info gauge"]
        for name, s in sorted(sources.items()):
            lines.append(f'kuzet_source_info{{source="{_esc(name)}",decoder="{_esc(s["decoder"] or "")}",'
                         f'gpu_frames="{str(s["gpu_frames"]).lower()}"}} 1')
        lines += ["# HELP kuzet_source_up 1 while a source is running.", "# TYPE kuzet_source_up gauge"]
        for name, s in sorted(sources.items()):
            lines.append(f'kuzet_source_up{{source="{_esc(name)}"}} {int(s["state"] == "running")}')
        for gauge, values in sorted(gauges.items()):
            lines += [f"# HELP kuzet_{gauge} Current value per source.", f"# TYPE kuzet_{gauge} gauge"]
            for name, value in sorted(values.items()):
                lines.append(f'kuzet_{gauge}{{source="{_esc(name)}"}} {value}')
        return "\n".join(lines) + "\n"


def _esc(label: str) -> str:
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
