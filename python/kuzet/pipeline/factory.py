"""Builds the built-in tasks from their names ("faces", "plates", "evidence") and the pipeline's options."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kuzet.errors import InvalidArgument
from kuzet.pipeline.builtin_tasks import EvidenceTask, FaceTask, PlateTask
from kuzet.pipeline.tasks import Task

TASK_NAMES = ("faces", "plates", "evidence")


@dataclass(frozen=True)
class TaskOptions:
    device: str = "auto"
    model_dir: str | os.PathLike[str] | None = None
    watchlist: Any = None  # a kuzet.Watchlist, or a path to one
    face_match_threshold: float = 0.43
    hotlist: Any = None  # a kuzet.Hotlist or an iterable of plates
    plate_formats: Iterable[str] = ()
    evidence_dir: str | os.PathLike[str] | None = None
    signing_key: Any = None  # a kuzet.evidence.PrivateKey, or a path to a PEM file


def build_task(name: str, options: TaskOptions) -> Task:
    if name == "faces":
        from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist

        watchlist = options.watchlist
        if watchlist is not None and not isinstance(watchlist, Watchlist):
            watchlist = Watchlist(watchlist, create=False)  # analysing against a missing file matches nobody
        return FaceTask(FacePipeline(detector=FaceDetector(model_dir=options.model_dir, device=options.device),
                                     embedder=FaceEmbedder(model_dir=options.model_dir, device=options.device),
                                     watchlist=watchlist, match_threshold=options.face_match_threshold))
    if name == "plates":
        from kuzet.plates import PlateDetector, PlatePipeline, PlateReader

        return PlateTask(PlatePipeline(PlateDetector(model_dir=options.model_dir, device=options.device),
                                       PlateReader(model_dir=options.model_dir, device=options.device),
                                       formats=tuple(options.plate_formats), hotlist=options.hotlist))
    if name == "evidence":
        from kuzet.evidence import PrivateKey, load_private_key

        if options.evidence_dir is None:
            raise InvalidArgument("the evidence task needs evidence_dir (where manifests are written)")
        key = options.signing_key
        if key is None:
            raise InvalidArgument("the evidence task needs signing_key (a private key or its PEM path); "
                                  "make one with `kuzet keys generate`")
        if not isinstance(key, PrivateKey):
            key = load_private_key(key)
        return EvidenceTask(options.evidence_dir, key)
    raise InvalidArgument(f"unknown task {name!r}; built-in tasks are {', '.join(TASK_NAMES)}")
