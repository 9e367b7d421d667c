"""Licence plates: batched detection, rectification, reading, format resolution, tracking and hotlists."""

from kuzet.plates.detector import PlateDetector
from kuzet.plates.formats import BUILTIN_FORMATS, FormatSet, PlateFormat
from kuzet.plates.hotlist import Hotlist, HotlistHit, edit_distance, normalize_plate
from kuzet.plates.pipeline import PlatePipeline
from kuzet.plates.reader import PlateReader, TextRead
from kuzet.plates.results import PlateDetection, PlateRead, PlateTrack
from kuzet.plates.tracker import PlateTracker
from kuzet.plates.voting import Vote, vote

__all__ = [
    "BUILTIN_FORMATS", "FormatSet", "PlateFormat", "Hotlist", "HotlistHit", "edit_distance", "normalize_plate",
    "PlateDetector", "PlateReader", "TextRead", "PlatePipeline", "PlateDetection", "PlateRead", "PlateTrack",
    "PlateTracker", "Vote", "vote",
]
