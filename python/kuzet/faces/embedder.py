"""Face embeddings: faces aligned to the ArcFace 112x112 template (one warp_batch call for the whole batch),
then an ArcFace-style network run in batches; embeddings are L2-normalised."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument, ModelError
from kuzet.faces import gpu
from kuzet.faces.align import align_faces
from kuzet.faces.images import Images, as_image_list
from kuzet.models import OrtModel, load_model
from kuzet.models.fp16 import half_precision
from kuzet.models.parallel import cpu_workers, map_chunks
from kuzet.models.session import choose_providers
from kuzet.results import Face

CROP = 112


class FaceEmbedder:
    """Embeds aligned faces with MobileFace V2 (default) or another ArcFace-style 112x112 model
    (input RGB 0..255 raw, the graph normalises; output (N, D)). Runs chunks of batch_size faces on
    `workers` threads like FaceDetector; batch_size defaults to 1 on CPU (the cheapest per face there) and
    8 on CUDA. Thread-safe. fp16=True (CUDA only, opt-in) runs a float16 copy of the model if it agrees with
    float32 (kuzet.models.fp16); its model_id then ends in ':fp16', so a watchlist enrolled in float32 refuses
    its embeddings until fp16 is shown to keep cosine >= 0.999 on real faces."""

    def __init__(
        self,
        model: str = "mobileface_v2",
        *,
        model_dir: str | os.PathLike[str] | None = None,
        path: str | os.PathLike[str] | None = None,
        device: str = "auto",
        batch_size: int | None = None,
        workers: int | None = None,
        fp16: bool = False,
    ) -> None:
        if (batch_size is not None and batch_size < 1) or (workers is not None and workers < 1):
            raise InvalidArgument("batch_size and workers must be >= 1")
        on_cpu = choose_providers(device).device == "cpu"
        if batch_size is None:
            batch_size = 1 if on_cpu else 8
        self.workers = (workers or cpu_workers()) if on_cpu else 1
        self.model: OrtModel = load_model(model, model_dir=model_dir, path=path, device=device,
                                          threads=1 if self.workers > 1 else None, role="face_embedder")
        if self.model.spec.family != "arcface":
            raise ModelError(f"model {model!r} is not an ArcFace-style embedder")
        self.batch_size = int(batch_size)
        spec = self.model.spec
        # Identifies the exact weights: embeddings of different models are not comparable.
        self.model_id = f"{spec.name}:{spec.sha256}" if spec.sha256 else f"{spec.name}:{self.model.path.name}"
        if fp16:
            fp32 = self.model
            self.model = half_precision(self.model)
            if self.model is not fp32:
                self.model_id += ":fp16"
        self._buffers = threading.local()  # per thread: the input array ONNX Runtime reads
        # On CUDA (and a CUDA build of kuzet) alignment and input run on the GPU: see kuzet/faces/gpu.py.
        self.gpu = gpu.gpu_embedder(self)

    def embed(self, images: Images, faces: Sequence[Sequence[Face]]) -> np.ndarray:
        """L2-normalised embeddings (M, D) of the given faces of each image, in order (image, then face)."""
        frames = gpu.frames_on_device(images, self.gpu.device_id) if self.gpu else as_image_list(images)
        if len(faces) != len(frames):
            raise InvalidArgument(f"faces: expected one list of faces per image ({len(frames)}), got {len(faces)}")
        index = np.array([i for i, fs in enumerate(faces) for _ in fs], np.int32)
        landmarks = np.array([f.landmarks for fs in faces for f in fs], np.float64).reshape(-1, 5, 2)
        return self.embed_landmarks(frames, index, landmarks)

    def embed_landmarks(self, frames: list[np.ndarray], image_index: np.ndarray, landmarks: np.ndarray,
                        source: dict[str, Any] | None = None) -> np.ndarray:
        """Embeddings of the faces with these 5-point landmarks in frames[image_index]: RGB frames, or NV12
        frames when `source` (faces.images.pixel_source) says so (on the GPU path they may be CUDA arrays)."""
        if self.gpu is not None:
            return self.gpu.embed_landmarks(frames, image_index, landmarks, source)
        return self.embed_aligned(align_faces(frames, image_index, landmarks, CROP, source=source))

    def embed_aligned(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings of aligned RGB uint8 crops (M,112,112,3)."""
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (CROP, CROP, 3):
            raise InvalidArgument(f"crops must be uint8 (M,{CROP},{CROP},3), got {crops.dtype} {crops.shape}")
        parts = map_chunks(lambda a, b: self._embed_chunk(crops[a:b]), len(crops), self.batch_size, self.workers)
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        emb = np.concatenate(parts)
        norms = np.linalg.norm(emb, axis=1, keepdims=True)
        return emb / np.maximum(norms, 1e-12)

    def _embed_chunk(self, chunk: np.ndarray) -> np.ndarray:
        buf: np.ndarray | None = getattr(self._buffers, "array", None)
        if buf is None or len(buf) < len(chunk):
            buf = self._buffers.array = np.empty((self.batch_size, 3, CROP, CROP), np.float32)
        batch, _ = core.preprocess_batch(chunk, CROP, CROP, fit="stretch", out=buf[:len(chunk)],
                                         threads=1 if self.workers > 1 else 0)
        out = next(iter(self.model.run(batch).values()))
        return np.array(out, np.float32).reshape(len(chunk), -1)

    @property
    def dim(self) -> int:
        shape = self.model.session.get_outputs()[0].shape
        return int(shape[-1]) if isinstance(shape[-1], int) else 256


__all__ = ["FaceEmbedder"]
