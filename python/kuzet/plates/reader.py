"""Batched plate text recognition: PP-OCR CTC recogniser over all crops at once, C++ CTC decoding."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument, ModelError
from kuzet.models import ModelSpec
from kuzet.models.resolve import resolve_extra
from kuzet.plates._runner import ChunkedRunner, native_threads

PLATE_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEIGHT = 48  # PP-OCR recogniser input height


@dataclass(frozen=True)
class TextRead:
    text: str
    char_confidences: tuple[float, ...]

    @property
    def confidence(self) -> float:
        return sum(self.char_confidences) / len(self.char_confidences) if self.char_confidences else 0.0


class PlateReader:
    """Reads plate crops (HxWx3 uint8 RGB) with a CTC recogniser restricted to plate characters."""

    def __init__(self, model: str | ModelSpec = "ppocrv4_rec", *, model_dir: str | os.PathLike[str] | None = None,
                 path: str | os.PathLike[str] | None = None, device: str = "auto",
                 characters: str = PLATE_CHARACTERS, max_width: int = 320, threads: int | None = None,
                 workers: int | None = None):
        if max_width < 16 or max_width % 8:
            raise InvalidArgument(f"max_width must be a multiple of 8 and >= 16, got {max_width}")
        self._runner = ChunkedRunner(model, role="plate_reader", model_dir=model_dir, path=path, device=device,
                                     threads=threads, workers=workers)
        self.model = self._runner.model
        spec = self.model.spec
        if "dict" not in spec.extra_files:
            raise ModelError(f"plate reader {spec.name!r} has no alphabet ('dict') file registered")
        lines = resolve_extra(spec, "dict", model_dir=model_dir).read_text(encoding="utf-8").splitlines()
        # Class 0 is the CTC blank, 1..len(lines) the alphabet lines, the last one a space.
        self.alphabet: list[str] = ["", *lines, " "]
        wanted = set(characters)
        self.allowed = np.array([ch in wanted for ch in self.alphabet], dtype=np.uint8)
        missing = wanted - set(self.alphabet)
        if missing:
            raise InvalidArgument(f"characters {sorted(missing)} are not in the recogniser's alphabet")
        self.max_width = max_width

    def read(self, crops: Sequence[np.ndarray]) -> list[TextRead]:
        """Text of each crop (HxWx3 uint8 RGB), resized to height 48 keeping its aspect.

        Crops are batched per padded width (a multiple of 8): the recogniser mixes context across the
        whole line, so padding a crop to a wider batch would change its read. Per-width batches give
        exactly the reads of one crop at a time, in a few runs (rectified plates share a few widths).
        """
        if len(crops) == 0:
            return []
        for i, crop in enumerate(crops):
            if not isinstance(crop, np.ndarray) or crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
                raise InvalidArgument(f"PlateReader.read: crop {i} must be an HxWx3 uint8 array")
            if crop.shape[0] == 0 or crop.shape[1] == 0:
                raise InvalidArgument(f"PlateReader.read: crop {i} is empty ({crop.shape})")
        widths = np.array([min(self.max_width, max(8, round(HEIGHT * c.shape[1] / c.shape[0]))) for c in crops])
        padded = np.minimum(self.max_width, -(-widths // 8) * 8)
        groups = [[int(i) for i in np.flatnonzero(padded == w)] for w in np.unique(padded)]
        tensors = [
            core.preprocess_batch([crops[i] for i in members], HEIGHT, int(padded[members[0]]), channel_order="bgr",
                                  mean=(127.5,) * 3, scale=(1 / 127.5,) * 3, fit="keep_height", pad_value=0.0,
                                  threads=native_threads())[0]
            for members in groups
        ]
        out: list[TextRead | None] = [None] * len(crops)
        for members, probs in zip(groups, self._runner.run_many(tensors), strict=True):
            reads = self._decode(probs, widths[members], int(padded[members[0]]))
            for i, read in zip(members, reads, strict=True):
                out[i] = read
        return [r for r in out if r is not None]

    def _decode(self, probs: np.ndarray, widths: np.ndarray, batch_w: int) -> list[TextRead]:
        if probs.ndim != 3 or probs.shape[2] != len(self.alphabet):
            raise ModelError(f"{self.model.spec.name}: output shape {probs.shape} does not fit an alphabet of "
                             f"{len(self.alphabet)} classes")
        steps = probs.shape[1]
        # Timesteps over the right padding carry no text; keep one extra for the last character's edge.
        lengths = np.minimum(steps, np.ceil(widths * steps / batch_w).astype(np.int64) + 1)
        labels, confidences, offsets = core.plates_ctc_greedy_decode(
            np.ascontiguousarray(probs, np.float32), allowed=self.allowed, lengths=lengths)
        out = []
        for r in range(len(widths)):
            lo, hi = int(offsets[r]), int(offsets[r + 1])
            text = "".join(self.alphabet[i] for i in labels[lo:hi])
            out.append(TextRead(text, tuple(float(c) for c in confidences[lo:hi])))
        return out
