"""5-point face alignment to the ArcFace 112x112 template: least-squares similarity (Umeyama) per face, the
inverse maps of a whole batch in one kuzet._core.alignment_matrices call, the pixels in one warp_batch call."""

from __future__ import annotations

from typing import Any

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument

# Standard ArcFace template for 112x112 crops (insightface): eyes, nose, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_transforms(src: np.ndarray, dst: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
    """Least-squares similarity transforms (rotation, uniform scale, translation) mapping each set of points
    src[k] (M,P,2) onto dst (P,2). Returns (M,3,3) float64 forward matrices. In 2-D the optimum (Umeyama 1991)
    has a closed form: with both point sets centred, [[a, -b], [b, a]] where a = sum(x*u + y*v) / sum(x^2 + y^2)
    and b = sum(x*v - y*u) / sum(x^2 + y^2) - no SVD, which is most of the cost for the few faces of a frame."""
    src = np.asarray(src, np.float64)
    if src.ndim != 3 or src.shape[1:] != dst.shape:
        raise InvalidArgument(f"landmarks must have shape (M,{dst.shape[0]},2), got {src.shape}")
    mu_s = src.mean(axis=1)
    mu_d = dst.mean(axis=0)
    x, y = (src - mu_s[:, None]).transpose(2, 0, 1)  # (M,P) each
    u, v = (dst - mu_d).T  # (P,) each
    var = (x * x + y * y).sum(axis=1)
    var = np.where(var > 0, var, 1.0)  # all points equal: a = b = 0, refused by alignment_matrices
    a = (x * u + y * v).sum(axis=1) / var
    b = (x * v - y * u).sum(axis=1) / var
    out = np.zeros((len(src), 3, 3))
    out[:, 0, 0] = out[:, 1, 1] = a
    out[:, 0, 1] = -b
    out[:, 1, 0] = b
    out[:, 0, 2] = mu_d[0] - a * mu_s[:, 0] + b * mu_s[:, 1]
    out[:, 1, 2] = mu_d[1] - b * mu_s[:, 0] - a * mu_s[:, 1]
    out[:, 2, 2] = 1.0
    return out


def alignment_matrices(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Inverse maps (crop pixel -> source pixel), (M,3,3), for warp_batch, from (M,5,2) landmarks: the inverse
    of similarity_transforms' map onto the template (scaled for crops other than 112 px), computed in C++
    (numpy's per-call overhead was most of the alignment's CPU time for the few faces of a frame)."""
    src = np.asarray(landmarks, np.float64)
    if src.ndim != 3 or src.shape[1:] != ARCFACE_TEMPLATE.shape:
        raise InvalidArgument(f"landmarks must have shape (M,{ARCFACE_TEMPLATE.shape[0]},2), got {src.shape}")
    return core.alignment_matrices(src, ARCFACE_TEMPLATE * (size / 112.0))


def align_faces(images: list[np.ndarray], image_index: np.ndarray, landmarks: np.ndarray,
                size: int = 112, *, threads: int = 0, source: dict[str, Any] | None = None) -> np.ndarray:
    """Aligned RGB uint8 crops (M,size,size,3) of the faces with the given landmarks in images[image_index].
    threads: native threads for the warps (0: all cores; 1 when the caller already runs one per core).
    source: the images' pixel format (faces.images.pixel_source: NV12 frames), RGB by default."""
    matrices = alignment_matrices(np.asarray(landmarks, np.float64).reshape(-1, 5, 2), size)
    return core.warp_batch(images, np.asarray(image_index, np.int32), matrices, size, size, threads=threads,
                           **(source or {}))


__all__ = ["ARCFACE_TEMPLATE", "similarity_transforms", "alignment_matrices", "align_faces"]
