"""Batched face detection: one pre-processing pass into the model's input buffer, one model run per chunk of
images, then decoding, thresholding, NMS and the mapping back to image coordinates in C++."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument, ModelError
from kuzet.faces.images import Images, as_image_list
from kuzet.models import OrtModel, load_model
from kuzet.results import Face


@dataclass(frozen=True)
class _InputFormat:
    """How a detector family wants its input (docs/models.md)."""

    channel_order: str
    mean: tuple[float, float, float]
    scale: tuple[float, float, float]
    pad_value: float  # a black border, in normalised units


_FORMATS = {
    "yunet": _InputFormat("bgr", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 0.0),
    "scrfd": _InputFormat("rgb", (127.5, 127.5, 127.5), (1 / 128, 1 / 128, 1 / 128), -127.5 / 128),
    "retinaface": _InputFormat("bgr", (104.0, 117.0, 123.0), (1.0, 1.0, 1.0), 0.0),
}


@dataclass(frozen=True)
class Detections:
    """Faces of a batch as flat arrays: image_index (K,), boxes (K,4), scores (K,), landmarks (K,5,2)."""

    image_index: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    def to_faces(self, n_images: int) -> list[list[Face]]:
        out: list[list[Face]] = [[] for _ in range(n_images)]
        for i, box, score, lm in zip(self.image_index.tolist(), self.boxes.tolist(), self.scores.tolist(),
                                     self.landmarks.tolist(), strict=True):
            out[i].append(Face(box=tuple(box), score=score, landmarks=tuple(tuple(p) for p in lm)))  # type: ignore[arg-type]
        return out


class FaceDetector:
    """Face detector over RGB uint8 frames (YuNet by default; also SCRFD and RetinaFace models).

    Every image is letterboxed into input_size (height, width); fixed-size models use their own size.
    """

    def __init__(
        self,
        model: str = "yunet",
        *,
        model_dir: str | os.PathLike[str] | None = None,
        path: str | os.PathLike[str] | None = None,
        device: str = "auto",
        score_threshold: float = 0.6,
        nms_iou: float = 0.3,
        input_size: tuple[int, int] = (640, 640),
        max_faces: int = 0,
        batch_size: int = 8,
        threads: int | None = None,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise InvalidArgument(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 <= nms_iou <= 1.0:
            raise InvalidArgument(f"nms_iou must be in [0, 1], got {nms_iou}")
        if batch_size < 1 or max_faces < 0:
            raise InvalidArgument("batch_size must be >= 1 and max_faces >= 0")
        self.model: OrtModel = load_model(model, model_dir=model_dir, path=path, device=device, threads=threads,
                                          role="face_detector")
        family = self.model.spec.family
        if family not in _FORMATS:
            raise ModelError(f"model {model!r} has family {family!r}, which is not a face detector family")
        self.family = family
        self._format = _FORMATS[family]
        size = self.model.spec.input_size or input_size
        if size[0] % 32 or size[1] % 32 or size[0] <= 0 or size[1] <= 0:
            raise InvalidArgument(f"input_size must be positive multiples of 32, got {size}")
        self.input_size: tuple[int, int] = (int(size[0]), int(size[1]))
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_faces = int(max_faces)
        self.batch_size = int(batch_size)
        h, w = self.input_size
        self._buffer = np.empty((self.batch_size, 3, h, w), np.float32)  # the array ONNX Runtime reads

    def detect(self, images: Images) -> list[list[Face]]:
        """Faces of each image (best first). A single HxWx3 array counts as a batch of one."""
        frames = as_image_list(images)
        return self.detect_arrays(frames).to_faces(len(frames))

    def detect_arrays(self, frames: list[np.ndarray]) -> Detections:
        """Faces of already-validated frames as flat arrays (the pipeline's fast path)."""
        h, w = self.input_size
        fmt = self._format
        parts = []
        for start in range(0, len(frames), self.batch_size):
            chunk = frames[start:start + self.batch_size]
            batch, transforms = core.preprocess_batch(
                chunk, h, w, channel_order=fmt.channel_order, mean=fmt.mean, scale=fmt.scale,
                fit="letterbox_topleft", pad_value=fmt.pad_value, out=self._buffer[:len(chunk)])
            outputs = self.model.run(batch)
            index, boxes, scores, landmarks = core.decode_faces(
                self.family, outputs, h, w, transforms, score_threshold=self.score_threshold,
                nms_iou=self.nms_iou, max_faces=self.max_faces)
            parts.append((index + start, boxes, scores, landmarks))
        if not parts:
            return Detections(np.zeros(0, np.int32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros((0, 5, 2), np.float32))
        return Detections(*(np.concatenate(p) for p in zip(*parts, strict=True)))


__all__ = ["FaceDetector", "Detections"]
