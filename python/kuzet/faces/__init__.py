"""The batched face pipeline: detection (YuNet / SCRFD / RetinaFace), 5-point alignment, embedding
(MobileFace / ArcFace-style) and watchlist matching."""

from kuzet.faces.align import ARCFACE_TEMPLATE, align_faces, alignment_matrices, similarity_transforms
from kuzet.faces.detector import Detections, FaceDetector
from kuzet.faces.embedder import FaceEmbedder
from kuzet.faces.pipeline import FacePipeline
from kuzet.faces.watchlist import Watchlist, WatchlistMatch

__all__ = [
    "ARCFACE_TEMPLATE", "align_faces", "alignment_matrices", "similarity_transforms", "Detections", "FaceDetector",
    "FaceEmbedder", "FacePipeline", "Watchlist", "WatchlistMatch",
]
