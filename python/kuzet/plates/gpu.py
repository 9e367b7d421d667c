"""The plate pipeline on a GPU: frames stay in GPU memory for detection and rectification.

When the plate detector runs on ONNX Runtime's CUDA EP and this kuzet build has its CUDA kernels, frames that
are CUDA arrays (kuzet DeviceArray from NVDEC, CuPy, PyTorch) are used in place and host frames are uploaded
once per batch (RGB frames, or NV12 ones with pixel_format="nv12": NVDEC's own output, converted inside the
kernels' pass); the letterbox kernel writes the detector input into a GPU buffer bound with IOBinding (only the
detector's small output comes back for the C++ decoding and NMS), and the perspective warp kernel rectifies
every plate of the batch on the GPU from the frames there. The rectified crops (a few KB each) come back to the
host for the recogniser, whose per-width batches are small. The arithmetic is the CPU path's, so the reads
agree with it (tests/test_gpu_infer_gpu.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument
from kuzet.faces.images import as_nv12_list
from kuzet.models.device_buffers import (
    buffer_cache,
    is_cuda_array,
    kernels_for,
    nv12_frames_on_device,
    split_batch,
    upload,
)
from kuzet.plates._images import as_image_batch

if TYPE_CHECKING:
    from kuzet.plates.detector import PlateDetector

GPU_DETECT_BATCH = 64  # frames per detector run on a GPU (64 x 320x320 inputs of the default model = 79 MB)


def plate_frames(images: Any, device_id: int, what: str, source: dict[str, Any] | None = None) -> list[Any]:
    """Each frame as an HxWx3 uint8 CUDA array (or an NV12 one when `source`, faces.images.pixel_source, says
    so): CUDA arrays as they are (the kernels check them), host frames checked like the CPU path's and
    uploaded."""
    if source:
        return nv12_frames_on_device(images, device_id)
    if is_cuda_array(images):
        frames = split_batch(images)
        if len(frames) == 1 and len(images.__cuda_array_interface__["shape"]) != 4:
            raise InvalidArgument(f"{what}: got one CUDA image; pass a list of frames or an (N,H,W,3) CUDA array")
        return frames
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)) and \
            any(is_cuda_array(i) for i in images):
        return [img if is_cuda_array(img) else upload(as_image_batch([img], f"{what}: image {i}")[0], device_id)
                for i, img in enumerate(images)]
    return [upload(f, device_id) for f in as_image_batch(images, what)]


def checked_batch(images: Any, device_id: int | None, what: str, source: dict[str, Any]) -> list[Any] | np.ndarray:
    """The frames a plate API was given, checked, where the detector's pixel work runs: in GPU memory on
    `device_id` (plate_frames), else host NV12 (`source`) or host RGB frames (host_batch: GPU frames refused)."""
    if device_id is not None:
        return plate_frames(images, device_id, what, source)
    return as_nv12_list(images) if source else host_batch(images, what)


def host_batch(images: Any, what: str) -> list[np.ndarray] | np.ndarray:
    """The CPU path's batch; frames in GPU memory are refused with the reason."""
    items = [images] if is_cuda_array(images) else images
    if isinstance(items, Sequence) and not isinstance(items, (str, bytes)) and any(is_cuda_array(i) for i in items):
        raise InvalidArgument(f"{what}: frames are in GPU memory but the plate detector runs on the CPU; pass "
                              "numpy frames (DeviceArray.numpy()) or run it on CUDA (device='cuda', onnxruntime-gpu)")
    return as_image_batch(images, what)


class GpuPlateDetector:
    """The detector's pre-processing and model run on a GPU; decoding stays with PlateDetector."""

    def __init__(self, detector: PlateDetector, device_id: int) -> None:
        self.detector = detector
        self.device_id = device_id
        self._local = threading.local()

    def run(self, frames: list[Any], source: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The model's (N,M,C) output and the (N,4) letterbox transforms of frames in GPU memory (RGB, or NV12
        per `source`)."""
        det = self.detector
        h, w = det.input_size
        outputs, transforms = [], []
        for a in range(0, len(frames), GPU_DETECT_BATCH):
            chunk = frames[a:a + GPU_DETECT_BATCH]
            batch = buffer_cache(self._local, self.device_id).view("detector_input", (len(chunk), 3, h, w),
                                                                    np.float32)
            transforms.append(core.cuda_preprocess_batch(chunk, batch, channel_order="rgb", scale=(1 / 255,) * 3,
                                                         fit="letterbox_center", pad_value=0.0,
                                                         device=det.model.device, **(source or {})))
            outputs.append(next(iter(det.model.run_device(batch).values())))
        return np.concatenate(outputs), np.concatenate(transforms)


def gpu_detector(detector: PlateDetector) -> GpuPlateDetector | None:
    device_id = kernels_for(detector.model, "PlateDetector")
    return None if device_id is None else GpuPlateDetector(detector, device_id)


def rectify(frames: list[Any], index: np.ndarray, matrices: np.ndarray, height: int, width: int,
            device: str, source: dict[str, Any] | None = None) -> np.ndarray:
    """warp_batch on the GPU from frames in GPU memory (RGB, or NV12 per `source`); the (M,height,width,3) RGB
    crops come back to the host."""
    return np.asarray(core.cuda_warp_batch(frames, index, matrices, height, width, device=device,
                                           **(source or {})))


__all__ = ["GpuPlateDetector", "gpu_detector", "plate_frames", "checked_batch", "host_batch", "rectify",
           "GPU_DETECT_BATCH"]
