"""Batched face detection: one pre-processing pass into the model's input buffer, one model run per chunk of
images, then decoding, thresholding, NMS and the mapping back to image coordinates in C++."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from kuzet._native import core
from kuzet.array_types import Frames
from kuzet.errors import InvalidArgument, ModelError
from kuzet.faces import gpu
from kuzet.faces.images import frame_size, pixel_source
from kuzet.models import OrtModel, load_model
from kuzet.models.fp16 import half_precision
from kuzet.models.parallel import cpu_workers, map_chunks
from kuzet.models.session import choose_providers
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

    Every image is letterboxed (top-left) into the model input. Fixed-size models (the default YuNet file,
    640x640) use their own size. Models with a dynamic input size use input_size (height, width) when given,
    else an input fitted to each batch: images scaled so the longer side is max_side, the input rounded up to
    multiples of 32 (e.g. 640x384 for 16:9 frames instead of 640x640: the same pixels for 40% less work).
    On CPU a batch runs as chunks of batch_size images on `workers` threads (default: one per CPU), each
    on a single-threaded session (see kuzet.models.parallel); on CUDA as one stream of chunks. batch_size
    defaults to 1 on CPU (a run of 4 images costs ~20% more CPU per image than 4 single runs here) and 4 on
    CUDA. Thread-safe.
    fp16=True (CUDA only, opt-in) runs a float16 copy of the model if it agrees with float32 (kuzet.models.fp16).
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
        input_size: tuple[int, int] | None = None,
        max_side: int = 640,
        max_faces: int = 0,
        batch_size: int | None = None,
        workers: int | None = None,
        fp16: bool = False,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise InvalidArgument(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 <= nms_iou <= 1.0:
            raise InvalidArgument(f"nms_iou must be in [0, 1], got {nms_iou}")
        if (batch_size is not None and batch_size < 1) or max_faces < 0 or (workers is not None and workers < 1):
            raise InvalidArgument("batch_size and workers must be >= 1 and max_faces >= 0")
        on_cpu = choose_providers(device).device == "cpu"
        if batch_size is None:
            batch_size = 1 if on_cpu else 4
        self.workers = (workers or cpu_workers()) if on_cpu else 1
        self.model: OrtModel = load_model(model, model_dir=model_dir, path=path, device=device,
                                          threads=1 if self.workers > 1 else None, role="face_detector")
        family = self.model.spec.family
        if family not in _FORMATS:
            raise ModelError(f"model {model!r} has family {family!r}, which is not a face detector family")
        self.family = family
        if fp16:
            self.model = half_precision(self.model)
        self._format = _FORMATS[family]
        fixed = self.model.spec.input_size
        if fixed is not None and ((input_size is not None and tuple(input_size) != tuple(fixed)) or max_side != 640):
            raise InvalidArgument(f"model {self.model.spec.name!r} takes a fixed {fixed[0]}x{fixed[1]} input; "
                                  "input_size and max_side apply to models with a dynamic input size "
                                  "(e.g. 'yunet_s_dynamic')")
        size = fixed or input_size
        if size is not None and (size[0] % 32 or size[1] % 32 or size[0] <= 0 or size[1] <= 0):
            raise InvalidArgument(f"input_size must be positive multiples of 32, got {size}")
        if max_side < 32 or max_side % 32:
            raise InvalidArgument(f"max_side must be a positive multiple of 32, got {max_side}")
        self.input_size: tuple[int, int] | None = None if size is None else (int(size[0]), int(size[1]))
        self.max_side = int(max_side)
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_faces = int(max_faces)
        self.batch_size = int(batch_size)
        self._native_threads = 1 if self.workers > 1 else 0  # chunks already run on `workers` threads
        self._buffers = threading.local()  # per thread: the memory ONNX Runtime reads, reused across calls
        # On CUDA (and a CUDA build of kuzet) batches are pre-processed on the GPU: see kuzet/faces/gpu.py.
        self.gpu = gpu.gpu_detector(self)

    def detect(self, images: Frames, *, pixel_format: str = "rgb", color_space: str = "bt601",
               full_range: bool = False) -> list[list[Face]]:
        """Faces of each image (best first). A single HxWx3 array counts as a batch of one. On CUDA, frames
        may also be CUDA arrays (kuzet DeviceArray, CuPy, PyTorch).

        pixel_format="nv12": the images are decoder NV12 frames, (H*3/2, W) uint8 each (a VideoReader
        layout="nv12" frame reshaped), converted to RGB inside the pre-processing pass; color_space and
        full_range describe them (VideoReader metadata: color_space, and color_range == "pc" or a yuvj
        pixel_format for full range). On the GPU path they may be NV12 CUDA arrays too ((H*3/2, W) each, or
        one (N, H*3/2, W)), e.g. NVDEC frames of layout "nv12" reshaped; host NV12 frames are uploaded."""
        source = pixel_source(pixel_format, color_space, full_range)
        device_id = None if self.gpu is None else self.gpu.device_id
        frames = gpu.checked_frames(images, device_id, source, "FaceDetector.detect")
        return self.detect_arrays(frames, source).to_faces(len(frames))

    def detect_arrays(self, frames: list[np.ndarray], source: dict[str, Any] | None = None) -> Detections:
        """Faces of already-validated frames as flat arrays (the pipeline's fast path): RGB frames, or NV12
        frames when `source` (faces.images.pixel_source) says so. On the GPU path the frames may also be CUDA
        arrays (see kuzet.faces.gpu)."""
        if self.gpu is not None:
            return self.gpu.detect(frames, source)
        return self._detect_host(frames, source or {})

    def _detect_host(self, frames: list[np.ndarray], source: dict[str, Any]) -> Detections:
        """Host frames (RGB, or NV12 per `source`) through the CPU pre-processing."""
        # Frames go through the model in chunks of one input size: the model's fixed size, or each frame's
        # fitted size (so a frame gives the same faces alone or in any batch; video frames share one size).
        groups: dict[tuple[int, int], list[int]] = {}
        for i, f in enumerate(frames):
            size = self.input_size or self._fitted_size_of([frame_size(f, bool(source))])
            groups.setdefault(size, []).append(i)
        tasks = [(size, idx[a:a + self.batch_size]) for size, idx in groups.items()
                 for a in range(0, len(idx), self.batch_size)]
        parts = map_chunks(lambda a, b: self._detect_chunk(frames, tasks[a][1], tasks[a][0], source), len(tasks), 1,
                           self.workers)
        if not parts:
            return Detections(np.zeros(0, np.int32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros((0, 5, 2), np.float32))
        if len(parts) == 1:  # one chunk (the pipeline's per-frame tasks): already by image, best first
            return Detections(*parts[0])
        index, boxes, scores, landmarks = (np.concatenate(p) for p in zip(*parts, strict=True))
        order = np.argsort(index, kind="stable")  # by image, best first within an image
        return Detections(index[order], boxes[order], scores[order], landmarks[order])

    def _detect_chunk(self, frames: list[np.ndarray], which: list[int], size: tuple[int, int],
                      source: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        fmt = self._format
        h, w = size
        chunk = [frames[i] for i in which]
        batch, transforms = core.preprocess_batch(
            chunk, h, w, channel_order=fmt.channel_order, mean=fmt.mean, scale=fmt.scale,
            fit="letterbox_topleft", pad_value=fmt.pad_value, out=self._input_buffer(len(chunk), h, w),
            threads=self._native_threads, **source)
        outputs = self.model.run(batch)
        index, boxes, scores, landmarks = core.decode_faces(
            self.family, outputs, h, w, transforms, score_threshold=self.score_threshold, nms_iou=self.nms_iou,
            max_faces=self.max_faces, threads=self._native_threads)
        return np.asarray(which, np.int32)[index], boxes, scores, landmarks

    def _fitted_size(self, frames: list[np.ndarray]) -> tuple[int, int]:
        """Smallest multiple-of-32 input holding every (RGB) frame scaled to max_side on its longer side."""
        return self._fitted_size_of([(f.shape[0], f.shape[1]) for f in frames])

    def _fitted_size_of(self, sizes: list[tuple[int, int]]) -> tuple[int, int]:
        """_fitted_size for frames of the given (height, width)."""
        h = w = 32
        for fh, fw in sizes:
            s = self.max_side / max(fh, fw)
            h, w = max(h, round(fh * s)), max(w, round(fw * s))
        return -(-h // 32) * 32, -(-w // 32) * 32

    def _input_buffer(self, n: int, h: int, w: int) -> np.ndarray:
        size = n * 3 * h * w
        buf: np.ndarray | None = getattr(self._buffers, "array", None)
        if buf is None or buf.size < size:
            buf = self._buffers.array = np.empty(size, np.float32)
        return buf[:size].reshape(n, 3, h, w)


__all__ = ["FaceDetector", "Detections"]
