"""Detect -> align -> embed -> match, each stage batched across all the images of a call."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from kuzet.array_types import Frames
from kuzet.errors import InvalidArgument, KuzetError
from kuzet.faces import gpu
from kuzet.faces.align import align_faces
from kuzet.faces.detector import Detections, FaceDetector
from kuzet.faces.embedder import CROP, FaceEmbedder
from kuzet.faces.gpu_watchlist import GPU_WATCHLIST_MIN, cupy_available, parse_cuda_device
from kuzet.faces.images import Images, as_image_list, pixel_source
from kuzet.faces.watchlist import Watchlist, WatchlistMatch
from kuzet.models.parallel import in_pool_thread, shared_pool
from kuzet.results import Face


class FacePipeline:
    """Finds faces, embeds them and (with a watchlist) names the ones that match an enrolled identity.

    match_threshold is the cosine similarity at or above which a face is reported as an identity (0.43 is
    MobileFace V2's equal-error point on 300 labelled real pairs; see docs/models.md).

    device ("auto", "cpu", "cuda", "cuda:N") places the detector and embedder it creates: "auto" takes CUDA
    when onnxruntime has the CUDA EP, else the CPU with a RuntimeWarning; "cuda" without it raises ModelError.
    `device` then says where the models run and `gpu_preprocessing` whether the pixel work (letterbox,
    alignment) runs there too, frames staying in GPU memory (kuzet/faces/gpu.py); CUDA arrays (NVDEC
    DeviceArray, CuPy, PyTorch) are then accepted as frames.

    watchlist_device ("auto", "cpu", "cuda", "cuda:N") is where the watchlist is searched: "auto" searches on
    the pipeline's GPU when the models run there, CuPy is installed and the watchlist holds at least
    GPU_WATCHLIST_MIN identities (below that one BLAS product on the CPU takes microseconds), else on the CPU.
    """

    def __init__(
        self,
        *,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        watchlist: Watchlist | None = None,
        match_threshold: float = 0.43,
        device: str = "auto",
        watchlist_device: str = "auto",
    ) -> None:
        if not -1.0 <= match_threshold <= 1.0:
            raise InvalidArgument(f"match_threshold must be in [-1, 1], got {match_threshold}")
        self.detector = detector or FaceDetector(device=device)
        self.embedder = embedder or FaceEmbedder(device=device)
        self.device: str = getattr(getattr(self.detector, "model", None), "device", "cpu")
        # Frames stay in GPU memory only when both stages have a GPU path (a caller's own objects may not) on the
        # same GPU; otherwise each stage takes host frames (and uploads them to its own GPU).
        self._gpu_id: int | None = None
        detector_gpu, embedder_gpu = getattr(self.detector, "gpu", None), getattr(self.embedder, "gpu", None)
        if detector_gpu is not None and embedder_gpu is not None and detector_gpu.device_id == embedder_gpu.device_id:
            self._gpu_id = detector_gpu.device_id
        self.gpu_preprocessing = self._gpu_id is not None
        self.watchlist = watchlist
        if watchlist_device not in ("auto", "cpu"):
            parse_cuda_device(watchlist_device)
        self.watchlist_device = watchlist_device
        self._gpu_search_failed = False  # "auto" then searches on the CPU (_search)
        self.match_threshold = float(match_threshold)
        if watchlist is not None:
            watchlist._check_model(self.embedder.model_id)

    def _search_device(self) -> str:
        if self.watchlist_device != "auto":
            return self.watchlist_device
        if (not self.device.startswith("cuda") or self.watchlist is None or len(self.watchlist) < GPU_WATCHLIST_MIN
                or self._gpu_search_failed):
            return "cpu"
        return self.device if cupy_available() else "cpu"

    def _search(self, watchlist: Watchlist, embeddings: np.ndarray) -> list[list[WatchlistMatch]]:
        """Watchlist matches of the embeddings. With watchlist_device="auto", a GPU search that fails (CuPy
        without its CUDA libraries, out of GPU memory) is done on the CPU instead, and from then on, with a
        RuntimeWarning; an explicit device raises."""
        device = self._search_device()
        search = functools.partial(watchlist.search, embeddings, top_k=1, threshold=self.match_threshold,
                                   model_id=self.embedder.model_id)
        try:
            return search(device=device)
        except KuzetError as exc:
            if self.watchlist_device != "auto" or device == "cpu" or isinstance(exc, InvalidArgument):
                raise
            warnings.warn(f"watchlist search on {device} failed ({exc}); searching on the CPU from now on",
                          RuntimeWarning, stacklevel=3)
            self._gpu_search_failed = True
            return search(device="cpu")

    def process(self, images: Frames, *, pixel_format: str = "rgb", color_space: str = "bt601",
                full_range: bool = False) -> list[list[Face]]:
        """Faces of each image with embeddings and, with a watchlist, identity and similarity.

        pixel_format="nv12": the images are NV12 frames ((H*3/2, W) uint8, a VideoReader layout="nv12" frame
        reshaped) with the stream's color_space and full_range (see FaceDetector.detect); detection and
        alignment read them directly (no RGB frame is made). On the GPU path they may be NV12 CUDA arrays
        (NVDEC's own output; host ones are uploaded, half the bytes of RGB)."""
        source = pixel_source(pixel_format, color_space, full_range)
        # on the GPU path, frames uploaded once, used by the detector and the embedder
        frames = gpu.checked_frames(images, self._gpu_id, source, "FacePipeline.process")
        if self._gpu_id is None and self.detector.workers > 1 and self.embedder.workers > 1 and not in_pool_thread():
            dets, embeddings = self._detect_embed_overlapped(frames, source)
        else:  # one device stream (CUDA) or a single worker: whole batches, stage by stage
            dets = self.detector.detect_arrays(frames, source)
            embeddings = self.embedder.embed_landmarks(frames, dets.image_index, dets.landmarks, source)
        return self._faces(len(frames), dets, embeddings)

    def _faces(self, n_frames: int, dets: Detections, embeddings: np.ndarray) -> list[list[Face]]:
        """Per-frame Face results from the detections and their embeddings, matched against the watchlist."""
        matches = self._search(self.watchlist, embeddings) if self.watchlist is not None and len(embeddings) else None
        out: list[list[Face]] = [[] for _ in range(n_frames)]
        for k, (i, box, score, lm) in enumerate(zip(dets.image_index.tolist(), dets.boxes.tolist(),
                                                    dets.scores.tolist(), dets.landmarks.tolist(), strict=True)):
            best = matches[k][0] if matches and matches[k] else None
            out[i].append(Face(box=tuple(box), score=score, landmarks=tuple(tuple(p) for p in lm),  # type: ignore[arg-type]
                               embedding=embeddings[k], identity=best.identity if best else None,
                               similarity=best.similarity if best else None))
        return out

    def _detect_embed_overlapped(self, frames: list[np.ndarray],
                                 source: dict[str, Any]) -> tuple[Detections, np.ndarray]:
        """CPU, several workers: each chunk of frames is detected and its faces aligned in one pool task,
        which queues the embedding of those faces as further tasks. No stage waits for the previous one to
        finish everywhere, so no core idles at a stage's tail, and the pre/post-processing runs on the workers."""
        pool = shared_pool()
        step = self.detector.batch_size
        # Faces per embedding task: a few model runs of batch_size each, so that a task's overhead (queueing,
        # waking a worker, normalising) is shared, while a crowded frame still splits across the workers.
        per_task = self.embedder.batch_size * 4

        def detect_align(a: int) -> tuple[Detections, list[Future[np.ndarray]]]:
            chunk = frames[a:a + step]
            dets = self.detector.detect_arrays(chunk, source)
            crops = align_faces(chunk, dets.image_index, dets.landmarks, CROP, threads=1, source=source)
            return dets, [pool.submit(self.embedder.embed_aligned, crops[k:k + per_task])
                          for k in range(0, len(crops), per_task)]

        jobs = [(a, pool.submit(detect_align, a)) for a in range(0, len(frames), step)]
        parts, embeddings = [], []
        for a, job in jobs:
            dets, embeds = job.result()
            parts.append((dets.image_index + a, dets.boxes, dets.scores, dets.landmarks))
            embeddings += [e.result() for e in embeds]
        if not embeddings:
            return Detections(np.zeros(0, np.int32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                              np.zeros((0, 5, 2), np.float32)), np.zeros((0, self.embedder.dim), np.float32)
        index, boxes, scores, landmarks = (np.concatenate(p) for p in zip(*parts, strict=True))
        return Detections(index.astype(np.int32), boxes, scores, landmarks), np.concatenate(embeddings)

    def enrol(self, identity: str, images: Images | Sequence[np.ndarray]) -> int:
        """Enrol the largest face of each image under `identity`. Returns the number of faces enrolled.
        Raises InvalidArgument if an image has no face (nothing is enrolled then)."""
        if self.watchlist is None:
            raise InvalidArgument("this pipeline has no watchlist to enrol into")
        emb = largest_face_embeddings(self.detector, self.embedder, images, identity)
        self.watchlist.enrol(identity, emb, model_id=self.embedder.model_id)
        return len(emb)


def largest_face_embeddings(detector: FaceDetector, embedder: FaceEmbedder, images: Images,
                            identity: str = "") -> np.ndarray:
    """Embeddings (one per image) of the largest face of each image, as for enrolment photos.
    Raises InvalidArgument naming the image when one has no face."""
    frames = as_image_list(images)
    if not frames:
        raise InvalidArgument(f"no images to enrol for {identity!r}")
    dets = detector.detect_arrays(frames)
    chosen = []
    for i in range(len(frames)):
        mine = np.flatnonzero(dets.image_index == i)
        if len(mine) == 0:
            raise InvalidArgument(f"images[{i}]: no face found to enrol for {identity!r}")
        b = dets.boxes[mine]
        chosen.append(mine[np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))])
    idx = np.array(chosen, np.intp)
    return embedder.embed_landmarks(frames, dets.image_index[idx], dets.landmarks[idx])


__all__ = ["FacePipeline", "largest_face_embeddings"]
