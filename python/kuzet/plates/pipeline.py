"""Detect -> rectify -> read -> resolve formats -> hotlist, batched over frames; streaming tracks on top."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from kuzet._native import core
from kuzet.array_types import Frames
from kuzet.errors import InvalidArgument
from kuzet.faces.images import pixel_source
from kuzet.models.parallel import in_pool_thread, shared_pool
from kuzet.plates import gpu, rectify
from kuzet.plates._runner import native_threads
from kuzet.plates.detector import PlateDetector
from kuzet.plates.formats import FormatSet
from kuzet.plates.hotlist import Hotlist
from kuzet.plates.reader import HEIGHT, PlateReader, TextRead
from kuzet.plates.results import PlateDetection, PlateRead, PlateTrack
from kuzet.plates.tracker import PlateTracker


@dataclass(frozen=True)
class _Line:
    plate: int  # index into the flat list of detections
    band: tuple[float, float]


class PlatePipeline:
    """Reads every plate in a batch of frames, and (streaming) one voted read per plate track.

    `formats`: region codes (see kuzet.plates.formats.BUILTIN_FORMATS) or patterns used to resolve O/0-style
    confusions. `hotlist`: a Hotlist or an iterable of wanted plates (fuzzy within 1 edit).
    `min_track_confidence`: a plate track whose voted read is less sure than this is not reported (per-frame
    reads from `process` still are). `line_min_confidence`: a line of a double-row plate read below this mean
    confidence (e.g. a state
    name above the number) is not part of the plate text, unless no line reaches it.
    `device` ("auto", "cpu", "cuda", "cuda:N") places the detector and reader it creates ("auto": CUDA when
    onnxruntime has the CUDA EP, else the CPU with a RuntimeWarning; "cuda" without it raises ModelError).
    `device` then says where the detector runs, `gpu_preprocessing` whether frames stay in GPU memory for
    detection and rectification (kuzet/plates/gpu.py); CUDA arrays are then accepted as frames.
    """

    def __init__(self, detector: PlateDetector | None = None, reader: PlateReader | None = None, *,
                 formats: Iterable[str] = (), hotlist: Hotlist | Iterable[str] | None = None,
                 iou_threshold: float = 0.3, max_gap: float = 1.0, line_min_confidence: float = 0.6,
                 min_track_confidence: float = 0.3, device: str = "auto"):
        if isinstance(formats, str):
            formats = (formats,)
        self.detector = detector if detector is not None else PlateDetector(device=device)
        self.reader = reader if reader is not None else PlateReader(device=device)
        # A caller's own detector (any object with detect()) runs as it is: no GPU path around it.
        self._gpu: gpu.GpuPlateDetector | None = getattr(self.detector, "gpu", None)
        self.device: str = self._gpu.detector.model.device if self._gpu else getattr(
            getattr(self.detector, "model", None), "device", "cpu")
        self.gpu_preprocessing = self._gpu is not None
        self.formats = FormatSet(formats)
        if hotlist is not None and not isinstance(hotlist, Hotlist):
            hotlist = Hotlist(hotlist)
        self.hotlist = hotlist
        self.line_min_confidence = line_min_confidence
        self.iou_threshold = iou_threshold
        self.max_gap = max_gap
        self.min_track_confidence = min_track_confidence
        self.tracker = self.new_tracker()

    def new_tracker(self) -> PlateTracker:
        """A tracker with this pipeline's settings (one per stream when several streams share the pipeline)."""
        return PlateTracker(iou_threshold=self.iou_threshold, max_gap=self.max_gap, formats=self.formats,
                            hotlist=self.hotlist, min_confidence=self.min_track_confidence)

    def process(self, images: Frames, *, pixel_format: str = "rgb", color_space: str = "bt601",
                full_range: bool = False) -> list[list[PlateRead]]:
        """Every plate read in each RGB frame of the batch (one list per frame, best detection first).

        pixel_format="nv12": NV12 frames with the stream's color_space and full_range (see
        PlateDetector.detect: host arrays, or on the GPU path CUDA arrays); detection and rectification read
        them directly (no RGB frame is made)."""
        source = pixel_source(pixel_format, color_space, full_range)
        return self._process_frames(self._frames(images, source, "PlatePipeline.process"), source)

    def _process_frames(self, batch: list[Any] | np.ndarray, source: dict[str, Any]) -> list[list[PlateRead]]:
        """process() of an already checked batch."""
        if _spreads_runs(self.detector) and _spreads_runs(self.reader) and not in_pool_thread():
            return self._process_overlapped(batch, source)
        detections = self.detector.detect(batch, **source)
        flat = [(i, d) for i, frame in enumerate(detections) for d in frame]
        if not flat:
            return [[] for _ in detections]
        texts = self._read_plates(batch, flat, source)
        results: list[list[PlateRead]] = [[] for _ in detections]
        for (image, det), text in zip(flat, texts, strict=True):
            results[image].append(self._make_read(det, text))
        return results

    def update(self, frames: Frames, pts: Sequence[float], *, pixel_format: str = "rgb",
               color_space: str = "bt601", full_range: bool = False) -> list[PlateTrack]:
        """Streaming: process a batch of frames with their timestamps; returns the plate tracks that ended.
        NV12 frames as in process()."""
        source = pixel_source(pixel_format, color_space, full_range)
        batch = self._frames(frames, source, "PlatePipeline.update")
        if len(pts) != len(batch):
            raise InvalidArgument(f"PlatePipeline.update: {len(batch)} frames but {len(pts)} pts")
        finished: list[PlateTrack] = []
        for reads, t in zip(self._process_frames(batch, source), pts, strict=True):
            finished += self.tracker.update(reads, t)
        return finished

    def _frames(self, images: Frames, source: dict[str, Any], what: str) -> list[Any] | np.ndarray:
        """The checked batch: frames for the GPU path (uploaded or in place), or host NV12 or RGB frames."""
        return gpu.checked_batch(images, None if self._gpu is None else self._gpu.device_id, what, source)

    def flush(self) -> list[PlateTrack]:
        """End of stream: the tracks still open."""
        return self.tracker.flush()

    def _make_read(self, det: PlateDetection, read: TextRead) -> PlateRead:
        resolved = self.formats.resolve(read.text)
        hit = self.hotlist.match(resolved.text) if self.hotlist is not None and resolved.text else None
        return PlateRead(box=det.box, corners=det.corners, detection_score=det.score, text=resolved.text,
                         raw_text=read.text, confidence=read.confidence, char_confidences=read.char_confidences,
                         format=resolved.format, double_row=det.double_row, hotlist=hit)

    def _process_overlapped(self, batch: list[Any] | np.ndarray, source: dict[str, Any]) -> list[list[PlateRead]]:
        """CPU, several workers: each frame is detected and its plates rectified in one pool task, which
        queues the reading of each plate line as a further task. No stage waits for the previous one to
        finish on every frame, so no core idles at a stage's tail, and the pre/post-processing runs on the
        workers too instead of on the calling thread between the stages."""
        pool = shared_pool()

        def detect_rectify(i: int) -> tuple[list[PlateDetection], list[_Line], list[Future[list[TextRead]]]]:
            frame = [batch[i]]
            found = self.detector.detect(frame, **source)[0]
            lines, crops = self._line_crops(frame, [(0, d) for d in found], source)
            return found, lines, [pool.submit(self.reader.read, [crop]) for crop in crops]

        results: list[list[PlateRead]] = []
        for job in [pool.submit(detect_rectify, i) for i in range(len(batch))]:
            found, lines, reads = job.result()
            texts = self._join_plate_lines(len(found), lines, [r.result()[0] for r in reads])
            results.append([self._make_read(d, t) for d, t in zip(found, texts, strict=True)])
        return results

    def _read_plates(self, batch: list[Any] | np.ndarray, flat: list[tuple[int, PlateDetection]],
                     source: dict[str, Any]) -> list[TextRead]:
        lines, crops = self._line_crops(batch, flat, source)
        return self._join_plate_lines(len(flat), lines, self.reader.read(crops) if crops else [])

    def _join_plate_lines(self, n_plates: int, lines: list[_Line], reads: list[TextRead]) -> list[TextRead]:
        """Each plate's text from the reads of its lines (a plate with no readable line reads empty)."""
        by_plate: list[list[TextRead]] = [[] for _ in range(n_plates)]
        for ln, read in zip(lines, reads, strict=True):
            by_plate[ln.plate].append(read)
        return [self._join_lines(parts) if parts else TextRead("", ()) for parts in by_plate]

    def _line_crops(self, batch: list[Any] | np.ndarray, flat: list[tuple[int, PlateDetection]],
                    source: dict[str, Any]) -> tuple[list[_Line], list[np.ndarray]]:
        """The text lines of the plates (two for a double-row plate) and their rectified crops (`source`: the
        frames' pixel format arguments, {} for RGB)."""
        if not flat:
            return [], []
        quads = np.array([d.corners if d.corners else _box_corners(d.box) for _, d in flat], np.float64)
        unit = rectify.unit_square_homographies(quads)
        bad = ~np.isfinite(unit).all(axis=(1, 2))
        if bad.any():  # degenerate corners: fall back to the axis-aligned box
            boxes = np.array([_box_corners(d.box) for _, d in flat], np.float64)
            quads[bad] = boxes[bad]
            unit[bad] = rectify.unit_square_homographies(quads[bad])
        aspect = rectify.plate_aspect(quads)
        usable = np.isfinite(unit).all(axis=(1, 2)) & np.isfinite(aspect)  # a zero-area box cannot be read
        lines = []
        for p, (_, det) in enumerate(flat):
            if not usable[p]:
                continue
            bands = (rectify.TOP_LINE, rectify.BOTTOM_LINE) if det.double_row else (rectify.FULL,)
            lines += [_Line(p, band) for band in bands]
        if not lines:
            return [], []
        crops: list[np.ndarray | None] = [None] * len(lines)
        # warp_batch makes crops of one size per call: group lines by their (rounded) width.
        widths = np.array([
            rectify.crop_widths(aspect[ln.plate : ln.plate + 1], ln.band[1] - ln.band[0], HEIGHT, multiple=8,
                                max_width=self.reader.max_width)[0]
            for ln in lines
        ])
        for width in np.unique(widths):
            members = np.flatnonzero(widths == width)
            matrices = np.concatenate([
                rectify.crop_matrices(unit[lines[i].plate : lines[i].plate + 1], lines[i].band, HEIGHT,
                                      np.array([width]))
                for i in members
            ])
            index = np.array([flat[lines[i].plate][0] for i in members], np.int32)
            if self._gpu is not None:  # frames in GPU memory: rectified there (plates/gpu.py)
                warped = gpu.rectify(list(batch), index, matrices, HEIGHT, int(width), self.device, source)
            else:
                warped = core.warp_batch(batch, index, matrices, HEIGHT, int(width), threads=native_threads(),
                                         **source)
            for j, i in enumerate(members):
                crops[i] = warped[j]
        return lines, [c for c in crops if c is not None]

    def _join_lines(self, parts: list[TextRead]) -> TextRead:
        if len(parts) == 1:
            return parts[0]
        confident = [p for p in parts if p.text and p.confidence >= self.line_min_confidence]
        kept = confident or parts
        return TextRead("".join(p.text for p in kept), tuple(c for p in kept for c in p.char_confidences))


def _spreads_runs(stage: PlateDetector | PlateReader) -> bool:
    """Whether a stage runs single items spread over the CPU cores (a caller's own subclass may not)."""
    return bool(getattr(getattr(stage, "_runner", None), "spreads_runs", False))


def _box_corners(box: tuple[float, float, float, float]) -> tuple[tuple[float, float], ...]:
    x1, y1, x2, y2 = box
    return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))
