"""Batched plate detection: C++ letterbox preprocessing, one ONNX run per batch, C++ decoding and NMS."""

from __future__ import annotations

import os

import numpy as np

from kuzet._native import core
from kuzet.array_types import Frames
from kuzet.errors import InvalidArgument, ModelError
from kuzet.faces.images import pixel_source
from kuzet.models import ModelSpec
from kuzet.plates import gpu
from kuzet.plates._images import frame_sizes
from kuzet.plates._runner import ChunkedRunner, native_threads
from kuzet.plates.results import PlateDetection

# Number of corner points per family; y5fu rows are box, obj, 4 corners, classes (single, double row).
_CORNERS = {"y5fu": 4, "yolo": 0}
_DOUBLE_ROW_CLASS = 1


class PlateDetector:
    """Finds plates (box, 4 corners when the model gives them, score, single/double row) in frames.

    `model` is a registered name or a ModelSpec (role "plate_detector", family "y5fu" for HyperLPR3-style
    [N,M,15] outputs or "yolo" for box-only [N,M,5+nc] outputs) for a caller's own detector file.
    """

    def __init__(self, model: str | ModelSpec = "hyperlpr3_320", *, model_dir: str | os.PathLike[str] | None = None,
                 path: str | os.PathLike[str] | None = None, device: str = "auto", score_threshold: float = 0.5,
                 nms_threshold: float = 0.5, threads: int | None = None, workers: int | None = None):
        if not 0.0 <= score_threshold <= 1.0:
            raise InvalidArgument(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise InvalidArgument(f"nms_threshold must be in (0, 1], got {nms_threshold}")
        self._runner = ChunkedRunner(model, role="plate_detector", model_dir=model_dir, path=path, device=device,
                                     threads=threads, workers=workers)
        self.model = self._runner.model
        family = self.model.spec.family
        if family not in _CORNERS:
            raise ModelError(f"plate detector {self.model.spec.name!r} has family {family!r}; supported: "
                             f"{sorted(_CORNERS)}")
        self.corner_count = _CORNERS[family]
        self.input_size = self.model.spec.input_size or (640, 640)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        # On CUDA (and a CUDA build of kuzet) frames are pre-processed on the GPU: see kuzet/plates/gpu.py.
        self.gpu = gpu.gpu_detector(self)

    def detect(self, images: Frames, *, pixel_format: str = "rgb", color_space: str = "bt601",
               full_range: bool = False) -> list[list[PlateDetection]]:
        """Plates in each RGB frame of the batch, best first, in frame pixel coordinates. On the GPU path the
        frames may be CUDA arrays (kuzet DeviceArray, CuPy, PyTorch).

        pixel_format="nv12": host NV12 frames ((H*3/2, W) uint8, a VideoReader layout="nv12" frame reshaped)
        with the stream's color_space and full_range (VideoReader metadata), converted to RGB inside the
        letterbox pass; no RGB frame is made. On the GPU path they may be NV12 CUDA arrays too ((H*3/2, W) each,
        or one (N, H*3/2, W)), e.g. NVDEC frames of layout "nv12" reshaped; host NV12 frames are uploaded."""
        what = "PlateDetector.detect"
        source = pixel_source(pixel_format, color_space, full_range)
        batch = gpu.checked_batch(images, None if self.gpu is None else self.gpu.device_id, what, source)
        if len(batch) == 0:
            return []
        h, w = self.input_size
        if self.gpu is not None:
            output, transforms = self.gpu.run(list(batch), source)
        else:
            tensor, transforms = core.preprocess_batch(batch, h, w, channel_order="rgb", scale=(1 / 255,) * 3,
                                                       fit="letterbox_center", pad_value=0.0,
                                                       threads=native_threads(), **source)
            output = self._runner.run_many([tensor])[0]
        if output.ndim != 3:
            raise ModelError(f"{self.model.spec.name}: expected a [N,M,C] output, got shape {output.shape}")
        image, boxes, corners, scores, classes = core.plates_decode_yolo(
            np.ascontiguousarray(output, np.float32), transforms, score_threshold=self.score_threshold,
            corner_count=self.corner_count)
        keep = core.nms(boxes, scores, self.nms_threshold, groups=image)
        # Boxes are clipped to their frame; corners are not (a warp samples outside as border).
        sizes = frame_sizes(batch, source)[image]  # (K, 2) = h, w
        boxes = np.clip(boxes, 0.0, np.tile(sizes[:, ::-1], 2))
        results: list[list[PlateDetection]] = [[] for _ in range(len(batch))]
        for k in keep:  # sorted by descending score
            results[int(image[k])].append(PlateDetection(
                box=tuple(float(v) for v in boxes[k]),  # type: ignore[arg-type]
                corners=tuple((float(x), float(y)) for x, y in corners[k]),
                score=float(scores[k]),
                double_row=bool(self.corner_count and classes[k] == _DOUBLE_ROW_CLASS),
            ))
        return results
