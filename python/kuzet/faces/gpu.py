"""The face pipeline on a GPU: frames stay in GPU memory from decoding to embedding.

When a detector/embedder model runs on ONNX Runtime's CUDA EP and this kuzet build has its CUDA kernels:

* frames that are RGB uint8 HxWx3 CUDA arrays (kuzet DeviceArray from NVDEC with layout "rgb", CuPy,
  PyTorch: anything with ``__cuda_array_interface__``) are used in place; host (numpy) frames are uploaded
  once per call. With pixel_format="nv12" the frames are NV12 ((H*3/2, W) uint8: NVDEC's own output, half
  the bytes of RGB) and the kernels convert their colour in the same pass (no RGB frame is made);
* the letterbox/normalise kernel writes the detector input straight into a GPU buffer that IOBinding binds
  (no host copy of the batch); only the detector's outputs (small) come back for the C++ decoding and NMS;
* the warp kernel builds the 112x112 aligned crops of every face of the batch on the GPU, the normalise
  kernel turns them into the embedder input, again bound with IOBinding; only the embeddings come back.

The arithmetic is the CPU path's (same plans, same bilinear taps, crops rounded to uint8 as on the CPU), so
the results agree with it: boxes within 1 px, embeddings at cosine >= 0.999 (tests/test_gpu_infer_gpu.py).
A model on CUDA in a kuzet built without CUDA keeps the CPU pre-processing (with a warning).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument
from kuzet.faces.align import alignment_matrices
from kuzet.faces.images import _as_rgb, as_image_list, as_nv12_list, frame_size
from kuzet.models.device_buffers import (
    CudaView,
    buffer_cache,
    cuda_shape,
    is_cuda_array,
    kernels_for,
    nv12_frames_on_device,
    split_batch,
    upload,
)

if TYPE_CHECKING:
    from kuzet.faces.detector import Detections, FaceDetector
    from kuzet.faces.embedder import FaceEmbedder

# Batches on a GPU: large enough to fill it, small enough to bound the buffers (32 x 640x640 inputs = 157 MB).
GPU_DETECT_BATCH = 32
GPU_EMBED_BATCH = 256


def frames_on_device(images: Any, device_id: int) -> list[Any]:
    """Each frame as an HxWx3 uint8 CUDA array: CUDA arrays as they are (checked by the kernels), host
    arrays validated like the CPU path's and uploaded (one copy each)."""
    if is_cuda_array(images):
        return split_batch(images)
    if isinstance(images, np.ndarray):
        return [upload(f, device_id) for f in as_image_list(images)]
    if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
        raise InvalidArgument(f"images: expected RGB uint8 frames (numpy or CUDA arrays), got "
                              f"{type(images).__name__}")
    return [img if is_cuda_array(img) else upload(_as_rgb(img, f"images[{i}]"), device_id)
            for i, img in enumerate(images)]


def device_frames(images: Any, device_id: int, source: dict[str, Any]) -> list[Any]:
    """frames_on_device, or the NV12 frames in GPU memory when `source` (faces.images.pixel_source) says NV12."""
    return nv12_frames_on_device(images, device_id) if source else frames_on_device(images, device_id)


def checked_frames(images: Any, device_id: int | None, source: dict[str, Any], where: str) -> list[Any]:
    """The frames a face API was given, checked, where its pixel work runs: in GPU memory on `device_id`
    (device_frames), else host NV12 (`source`) or host RGB frames (host_frames: GPU frames refused)."""
    if device_id is not None:
        return device_frames(images, device_id, source)
    return as_nv12_list(images) if source else host_frames(images, where)


def host_frames(images: Any, where: str) -> list[np.ndarray]:
    """The CPU path's frames; frames in GPU memory are refused with the reason (the models run on the CPU)."""
    items = [images] if is_cuda_array(images) or isinstance(images, np.ndarray) else images
    if isinstance(items, Sequence) and not isinstance(items, (str, bytes)) and any(is_cuda_array(i) for i in items):
        raise InvalidArgument(f"{where}: frames are in GPU memory but this pipeline runs on the CPU; pass numpy "
                              "frames (DeviceArray.numpy()) or run it on CUDA (device='cuda', onnxruntime-gpu)")
    return as_image_list(images)


class GpuDetector:
    """FaceDetector's batches on a GPU (see the module docstring). One buffer cache per thread."""

    def __init__(self, detector: FaceDetector, device_id: int) -> None:
        self.detector = detector
        self.device_id = device_id
        self.batch_size = max(detector.batch_size, GPU_DETECT_BATCH)
        self._local = threading.local()

    def detect(self, images: Any, source: dict[str, Any] | None = None) -> Detections:
        """Faces of RGB frames, or of NV12 frames when `source` (faces.images.pixel_source) says so."""
        from kuzet.faces.detector import Detections  # detector.py imports this module

        source = source or {}
        frames = device_frames(images, self.device_id, source)
        det = self.detector
        groups: dict[tuple[int, int], list[int]] = {}
        for i, f in enumerate(frames):
            # From the interface: a CUDA array need not have a .shape (the kernels check the rest).
            shape = cuda_shape(f, f"images[{i}]")
            if len(shape) != (2 if source else 3):
                kind = "an NV12 (H*3/2, W)" if source else "an HxWx3"
                raise InvalidArgument(f"images[{i}]: expected {kind} CUDA image, got shape {shape}")
            size = det.input_size or det._fitted_size_of([frame_size(f, bool(source))])
            groups.setdefault(size, []).append(i)
        parts = [self._detect_chunk(frames, idx[a:a + self.batch_size], size, source)
                 for size, idx in groups.items() for a in range(0, len(idx), self.batch_size)]
        if not parts:
            return Detections(np.zeros(0, np.int32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros((0, 5, 2), np.float32))
        index, boxes, scores, landmarks = (np.concatenate(p) for p in zip(*parts, strict=True))
        order = np.argsort(index, kind="stable")  # by image, best first within an image (as on the CPU)
        return Detections(index[order], boxes[order], scores[order], landmarks[order])

    def _detect_chunk(self, frames: list[Any], which: list[int], size: tuple[int, int],
                      source: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        det = self.detector
        fmt = det._format
        h, w = size
        batch = buffer_cache(self._local, self.device_id).view("detector_input", (len(which), 3, h, w), np.float32)
        transforms = core.cuda_preprocess_batch(
            [frames[i] for i in which], batch, channel_order=fmt.channel_order, mean=fmt.mean, scale=fmt.scale,
            fit="letterbox_topleft", pad_value=fmt.pad_value, device=det.model.device, **source)
        outputs = det.model.run_device(batch)
        index, boxes, scores, landmarks = core.decode_faces(
            det.family, outputs, h, w, transforms, score_threshold=det.score_threshold, nms_iou=det.nms_iou,
            max_faces=det.max_faces)
        return np.asarray(which, np.int32)[index], boxes, scores, landmarks


class GpuEmbedder:
    """FaceEmbedder on a GPU: alignment warp and model input built on the device (module docstring)."""

    def __init__(self, embedder: FaceEmbedder, device_id: int) -> None:
        self.embedder = embedder
        self.device_id = device_id
        self.batch_size = max(embedder.batch_size, GPU_EMBED_BATCH)
        self._local = threading.local()

    def embed_landmarks(self, images: Any, image_index: np.ndarray, landmarks: np.ndarray,
                        source: dict[str, Any] | None = None) -> np.ndarray:
        """Embeddings of faces in RGB frames, or in NV12 frames when `source` says so."""
        from kuzet.faces.embedder import CROP  # embedder.py imports this module

        source = source or {}
        frames = device_frames(images, self.device_id, source)
        index = np.asarray(image_index, np.int64).reshape(-1)
        matrices = alignment_matrices(np.asarray(landmarks, np.float64).reshape(-1, 5, 2), CROP)
        if len(index) != len(matrices):
            raise InvalidArgument(f"image_index has {len(index)} entries for {len(matrices)} faces")
        if len(matrices) == 0:
            return np.zeros((0, self.embedder.dim), np.float32)
        parts = []
        for a in range(0, len(matrices), self.batch_size):
            crops = self.aligned_crops(frames, index[a:a + self.batch_size], matrices[a:a + self.batch_size],
                                       source)
            parts.append(self.embed_crops(crops))
        emb = np.concatenate(parts)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def aligned_crops(self, frames: list[Any], index: np.ndarray, matrices: np.ndarray,
                      source: dict[str, Any] | None = None) -> CudaView:
        """(M,112,112,3) uint8 RGB aligned crops in GPU memory (valid until the next call on this thread), from
        RGB frames or, per `source`, NV12 frames."""
        from kuzet.faces.embedder import CROP

        crops = buffer_cache(self._local, self.device_id).view("crops", (len(matrices), CROP, CROP, 3), np.uint8)
        core.cuda_warp_batch(frames, index, matrices, CROP, CROP, out=crops, device=self.embedder.model.device,
                             **(source or {}))
        return crops

    def embed_crops(self, crops: CudaView) -> np.ndarray:
        """Raw (not normalised) embeddings (M,D) of aligned crops in GPU memory."""
        from kuzet.faces.embedder import CROP

        m = crops.shape[0]
        batch = buffer_cache(self._local, self.device_id).view("embedder_input", (m, 3, CROP, CROP), np.float32)
        core.cuda_preprocess_batch(crops, batch, fit="stretch", device=self.embedder.model.device)
        out = next(iter(self.embedder.model.run_device(batch).values()))
        return np.array(out, np.float32).reshape(m, -1)


def gpu_detector(detector: FaceDetector) -> GpuDetector | None:
    device_id = kernels_for(detector.model, "FaceDetector")
    return None if device_id is None else GpuDetector(detector, device_id)


def gpu_embedder(embedder: FaceEmbedder) -> GpuEmbedder | None:
    device_id = kernels_for(embedder.model, "FaceEmbedder")
    return None if device_id is None else GpuEmbedder(embedder, device_id)


__all__ = ["gpu_detector", "gpu_embedder", "GpuDetector", "GpuEmbedder", "frames_on_device", "device_frames",
           "checked_frames", "host_frames", "GPU_DETECT_BATCH", "GPU_EMBED_BATCH"]
