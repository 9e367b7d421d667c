"""Multi-source runtime: decode many streams, batch frames across them, run face/plate tasks, emit events."""

from kuzet.pipeline.batcher import DynamicBatcher
from kuzet.pipeline.events import Event, FrameItem, JsonlWriter
from kuzet.pipeline.metrics import Metrics
from kuzet.pipeline.pipeline import Pipeline
from kuzet.pipeline.source_worker import Sampling
from kuzet.pipeline.tasks import Task

__all__ = ["DynamicBatcher", "Event", "FrameItem", "JsonlWriter", "Metrics", "Pipeline", "Sampling", "Task"]
