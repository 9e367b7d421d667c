"""5-point face alignment to the ArcFace 112x112 template: least-squares similarity (Umeyama) per face,
estimated for a whole batch at once in numpy; the pixel work is one kuzet._core.warp_batch call."""

from __future__ import annotations

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument

# Standard ArcFace template for 112x112 crops (insightface): eyes, nose, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_transforms(src: np.ndarray, dst: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
    """Least-squares similarity transforms (rotation, uniform scale, translation; Umeyama 1991) mapping each
    set of points src[k] (M,P,2) onto dst (P,2). Returns (M,3,3) float64 forward matrices."""
    src = np.asarray(src, np.float64)
    if src.ndim != 3 or src.shape[1:] != dst.shape:
        raise InvalidArgument(f"landmarks must have shape (M,{dst.shape[0]},2), got {src.shape}")
    m, p = src.shape[:2]
    mu_s = src.mean(axis=1, keepdims=True)
    mu_d = dst.mean(axis=0)
    sc = src - mu_s
    dc = dst - mu_d
    cov = np.einsum("pi,mpj->mij", dc, sc) / p  # (M,2,2): dst x src
    u, s, vt = np.linalg.svd(cov)
    d = np.where(np.linalg.det(u) * np.linalg.det(vt) < 0, -1.0, 1.0)  # no reflections
    signs = np.stack([np.ones(m), d], axis=1)
    rot = u @ (signs[:, :, None] * vt)
    var_s = (sc**2).sum(axis=(1, 2)) / p
    scale = (s * signs).sum(axis=1) / np.where(var_s > 0, var_s, 1.0)
    t = mu_d - scale[:, None] * np.einsum("mij,mj->mi", rot, mu_s[:, 0])
    out = np.zeros((m, 3, 3))
    out[:, :2, :2] = scale[:, None, None] * rot
    out[:, :2, 2] = t
    out[:, 2, 2] = 1.0
    return out


def alignment_matrices(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Inverse maps (crop pixel -> source pixel), (M,3,3), for warp_batch, from (M,5,2) landmarks.
    The template is scaled for crops other than 112 px."""
    forward = similarity_transforms(landmarks, ARCFACE_TEMPLATE * (size / 112.0))
    if len(forward) and np.any(np.abs(np.linalg.det(forward[:, :2, :2])) < 1e-12):
        raise InvalidArgument("landmarks are degenerate (all points equal): cannot align")
    return np.linalg.inv(forward) if len(forward) else forward


def align_faces(images: list[np.ndarray], image_index: np.ndarray, landmarks: np.ndarray,
                size: int = 112, *, threads: int = 0) -> np.ndarray:
    """Aligned RGB uint8 crops (M,size,size,3) of the faces with the given landmarks in images[image_index].
    threads: native threads for the warps (0: all cores; 1 when the caller already runs one per core)."""
    matrices = alignment_matrices(np.asarray(landmarks, np.float64).reshape(-1, 5, 2), size)
    return core.warp_batch(images, np.asarray(image_index, np.int32), matrices, size, size, threads=threads)


__all__ = ["ARCFACE_TEMPLATE", "similarity_transforms", "alignment_matrices", "align_faces"]
