"""VideoReader: decode a video file, URL, bytes or binary file object into numpy frames.

Frames come from the native decoder (FFmpeg, frame threads) with the GIL released; every array owns its
native buffer (no copy on the way to numpy).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, Any, Literal, Union

import numpy as np

from kuzet._native import core
from kuzet.errors import DecodeError, InvalidArgument

Layout = Literal["rgb", "bgr", "rgb_planar", "yuv420p", "nv12", "native"]
Device = str  # "auto", "cpu", "cuda" or "cuda:N"
ErrorPolicy = Literal["raise", "skip"]
BufferPolicy = Literal["drop_oldest", "block"]
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_URL_SCHEMES = (
    "file://",
    "http://",
    "https://",
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "tcp://",
    "udp://",
    "srt://",
)
_LAYOUTS = ("rgb", "bgr", "rgb_planar", "yuv420p", "nv12", "native")
_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]{1,3})?")


@dataclass(frozen=True)
class VideoMetadata:
    """What the container and codec say about the video stream (before decoding)."""

    container: str
    codec: str
    profile: str | None
    width: int
    height: int
    frame_rate: Fraction | None  # nominal (r_frame_rate)
    average_frame_rate: Fraction | None
    duration: float | None  # seconds
    start_time: float  # seconds
    frame_count: int | None  # from the container; None when it does not say
    rotation: int  # degrees clockwise to turn frames upright: 0, 90, 180, 270
    pixel_format: str
    color_space: str
    color_range: str
    color_primaries: str
    color_transfer: str
    time_base: Fraction
    bit_rate: int | None


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``pts`` is in seconds, ``pts_raw`` in time-base units."""

    data: np.ndarray
    pts: float
    pts_raw: int
    index: int
    key_frame: bool


@dataclass(frozen=True)
class FrameBatch:
    """Several frames in one array: ``data`` is (N, H, W, 3) for rgb/bgr, (N, 3, H, W) for rgb_planar."""

    data: np.ndarray
    pts: np.ndarray  # float64 seconds
    pts_raw: np.ndarray  # int64 time-base units
    index: np.ndarray  # int64 frame indices in the decoded stream
    key_frame: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class DecodeStats:
    decoded: int
    corrupt: int
    skipped: int
    dropped: int
    reconnects: int
    sampled_out: int = 0  # frames decoded but left out by sequential reading's sampling (every_n, sample_fps)


def _fraction(pair: tuple[int, int]) -> Fraction | None:
    num, den = pair
    return Fraction(num, den) if num > 0 and den > 0 else None


def _metadata(d: Mapping[str, Any]) -> VideoMetadata:
    tb_num, tb_den = d["time_base"]
    return VideoMetadata(
        container=d["container"],
        codec=d["codec"],
        profile=d["profile"] or None,
        width=d["width"],
        height=d["height"],
        frame_rate=_fraction(d["frame_rate"]),
        average_frame_rate=_fraction(d["average_frame_rate"]),
        duration=d["duration"] if d["duration"] >= 0 else None,
        start_time=d["start_time"],
        frame_count=d["frame_count"] if d["frame_count"] >= 0 else None,
        rotation=d["rotation"],
        pixel_format=d["pixel_format"],
        color_space=d["color_space"],
        color_range=d["color_range"],
        color_primaries=d["color_primaries"],
        color_transfer=d["color_transfer"],
        time_base=Fraction(tb_num, tb_den) if tb_den else Fraction(0),
        bit_rate=d["bit_rate"] or None,
    )


def without_credentials(url: str) -> str:
    """`url` with its user:password (rtsp://admin:secret@camera/...) replaced by ***: for messages, events and
    logs, which must not carry camera credentials."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    hostport = authority.rpartition("@")[2]
    return f"{scheme}://***@{hostport}{slash}{path}" if sep and "@" in authority else url


def _classify_source(source: Source) -> tuple[str, Any, str]:
    """(kind, target, display name) for the native decoder."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "memory", source, f"<{len(source)} bytes>"
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if not isinstance(text, str):
            raise InvalidArgument(f"source path must be text, got {type(text).__name__}")
        if text.startswith(_URL_SCHEMES):
            return "url", text, without_credentials(text)
        if "://" in text:
            raise InvalidArgument(f"{without_credentials(text)}: unsupported URL scheme "
                                  f"(use one of {', '.join(_URL_SCHEMES)})")
        return "url", "file:" + os.path.abspath(text), text
    if hasattr(source, "read"):
        return "file", source, f"<file object {getattr(source, 'name', type(source).__name__)}>"
    raise InvalidArgument(
        f"source must be a path, URL, bytes or a binary file object, got {type(source).__name__}"
    )


class VideoReader:
    """Reads frames from a video.

    ``device="auto"`` decodes on the GPU when this build, this machine and the stream allow NVDEC, else on
    the CPU (then ``fallback_reason`` says why and a warning is issued); ``device="cuda"``/``"cuda:N"``
    raises :class:`kuzet.DeviceUnavailable` instead, unless ``nvdec_fallback=True``: then that GPU is used as
    ``"auto"`` uses GPU 0 (the CPU, saying why, where NVDEC cannot decode the stream). Frames are numpy
    arrays either way; for frames that stay in GPU memory use :class:`kuzet.cuda.CudaVideoReader`.
    ``errors="skip"`` drops corrupt frames (counted in ``stats``) instead of raising
    :class:`kuzet.CorruptStream`. ``timeout`` (seconds) bounds every blocking read of a network source (a
    stalled stream raises :class:`kuzet.StreamTimeout`).

    Live use: with ``buffer="drop_oldest"`` or ``"block"`` a native thread decodes ahead into a queue of
    ``buffer_size`` frames; when it is full the oldest frame is dropped (counted in ``stats.dropped``) or
    the decoder waits. ``reconnect=N`` (live mode; N > 0 turns it on with ``buffer="block"`` if no buffer
    is given) reopens a network stream that stalled, failed or ended, up to N attempts per outage with
    exponential backoff from ``reconnect_backoff`` seconds (counted in ``stats.reconnects``). Live readers
    read sequentially only.

    Layouts: ``rgb``/``bgr`` (H, W, 3), ``rgb_planar`` (3, H, W), ``yuv420p``/``nv12`` 8-bit planes, ``native``
    (the decoder's own planes, e.g. 16-bit samples for 10-bit video). Streams deeper than 8 bits are rounded to
    8 bits before any other layout, the same way on the CPU and on NVDEC, so both give the same pixels.

    Sampling: sequential reading hands out every ``every_n``-th frame and/or about ``sample_fps`` frames per
    second of stream time (by pts). The frames left out are decoded (later frames need them) but never
    converted, copied or queued, and are counted in ``stats.sampled_out``; handed-out frames keep their index
    in the stream. Random access (``get_frames``, ``get_frames_at``) is not sampled.
    """

    # A live reader converts its frames into GPU memory (DeviceArray) instead: kuzet.cuda.CudaVideoReader's.
    _gpu_frames = False

    def __init__(
        self,
        source: Source,
        *,
        device: Device = "auto",
        layout: Layout = "rgb",
        threads: int = 0,
        errors: ErrorPolicy = "raise",
        apply_rotation: bool = False,
        timeout: float | None = 10.0,
        options: Mapping[str, str] | None = None,
        buffer: BufferPolicy | None = None,
        buffer_size: int = 8,
        reconnect: int = 0,
        reconnect_backoff: float = 0.5,
        every_n: int = 1,
        sample_fps: float | None = None,
        nvdec_fallback: bool = False,
    ) -> None:
        if layout not in _LAYOUTS:
            raise InvalidArgument(f"layout must be one of {', '.join(_LAYOUTS)}, got {layout!r}")
        if errors not in ("raise", "skip"):
            raise InvalidArgument(f"errors must be 'raise' or 'skip', got {errors!r}")
        if not isinstance(device, str) or not _DEVICE.fullmatch(device):
            raise InvalidArgument(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
        if timeout is not None and not 0 < timeout < math.inf:  # NaN too
            raise InvalidArgument(f"timeout must be a finite number of seconds > 0, or None (no limit), "
                                  f"got {timeout!r}")
        kind, target, name = _classify_source(source)
        self.name = name
        self.layout: Layout = layout
        self.apply_rotation = apply_rotation
        if buffer is None and reconnect > 0:
            buffer = "block"
        if buffer is not None and buffer not in ("drop_oldest", "block"):
            raise InvalidArgument(f"buffer must be 'drop_oldest', 'block' or None, got {buffer!r}")
        if buffer_size < 1:
            raise InvalidArgument(f"buffer_size must be >= 1, got {buffer_size}")
        if every_n < 1:
            raise InvalidArgument(f"every_n must be >= 1, got {every_n}")
        if sample_fps is not None and not sample_fps > 0:
            raise InvalidArgument(f"sample_fps must be > 0 or None, got {sample_fps!r}")
        # keyword options of both native decoders: sampling, and what a GPU reader does where NVDEC cannot decode
        native_options = {"every_n": int(every_n), "sample_fps": float(sample_fps or 0.0),
                          "nvdec_fallback": bool(nvdec_fallback)}
        common = (kind, target, name, device, threads, errors == "skip", float(timeout or 0.0))
        self.live = buffer is not None
        self._decoder: Any
        if buffer is None:
            self._decoder = core.VideoDecoder(*common, dict(options or {}), **native_options)
        else:
            self._decoder = core.LiveVideoDecoder(
                *common, dict(options or {}), layout, buffer, buffer_size, reconnect, float(reconnect_backoff),
                **native_options, gpu_frames=self._gpu_frames,
            )
        self.metadata = _metadata(self._decoder.metadata())
        self.device: str = self._decoder.device
        # device="auto" decodes on NVDEC when the build, the machine and the stream allow it; else says why.
        self.fallback_reason: str | None = self._decoder.fallback_reason or None
        if self.fallback_reason:
            message = f"kuzet.VideoReader: decoding {name} on the CPU ({self.fallback_reason})"
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    # --- sequential reading -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def read(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        out = self._decoder.next_frame() if self.live else self._decoder.next_frame(self.layout)
        if out is None:
            return None
        data, pts_raw, pts, index, key = out
        return Frame(
            data=self._rotate(data, batched=False), pts=pts, pts_raw=pts_raw, index=index, key_frame=key
        )

    # --- random access ------------------------------------------------------------------------------
    def get_frames(self, indices: Sequence[int] | np.ndarray) -> FrameBatch:
        """Frames at these indices of the decoded stream (exact: same pixels as sequential decoding).

        Indices may repeat and come in any order; the batch keeps the order asked for. The file is indexed
        on first use (a demux pass, or a decode pass for streams without timestamps). Afterwards,
        sequential reading continues after the highest index fetched.
        """
        self._require_random_access()
        wanted = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        data, pts_raw, pts, index, key = self._decoder.get_frames(wanted, self.layout)
        return FrameBatch(
            data=self._rotate(data, batched=True), pts=pts, pts_raw=pts_raw, index=index, key_frame=key
        )

    def get_frames_at(self, seconds: Sequence[float] | np.ndarray) -> FrameBatch:
        """The frames shown at these times (the last frame whose pts <= t), in seconds."""
        times = np.asarray(seconds, dtype=np.float64).reshape(-1)
        pts = self.frame_pts()
        if len(pts) == 0:
            raise DecodeError(f"{self.name}: the stream has no frames")
        if np.any(np.diff(pts) <= 0):
            raise DecodeError(f"{self.name}: frame timestamps do not increase (frames without timestamps, or "
                              "damaged ones), so no frame is known to be shown at a time; use get_frames(indices)")
        tb = self.metadata.time_base
        starts = pts.astype(np.float64) * float(tb)
        end = self._end_time(starts)
        # In time-base ticks, with half a tick of slack: a frame's own time, converted to seconds and back
        # (0.1001 s at 1/30000), may land a rounding error below its pts and must still name that frame.
        ticks = times * (tb.denominator / tb.numerator) + 0.5
        bad = (ticks < pts[0]) | (times >= end) | ~np.isfinite(times)
        if bad.any():
            raise InvalidArgument(
                f"{self.name}: time {float(times[bad][0])!r} s is outside the video "
                f"[{starts[0]:.6f}, {end:.6f}) s"
            )
        indices = np.searchsorted(pts, ticks, side="right") - 1
        return self.get_frames(indices)

    def frame_pts(self) -> np.ndarray:
        """pts (time-base units) of every frame of the decoded stream; indexing the file on first use."""
        self._require_random_access()
        # Not cached here: the native index may be rebuilt by decoding if the container's index proves wrong.
        pts: np.ndarray = self._decoder.frame_pts()
        return pts

    def _require_random_access(self) -> None:
        if self.live:
            raise DecodeError(f"{self.name}: a live (buffered) reader reads sequentially only")

    def _end_time(self, starts: np.ndarray) -> float:
        if len(starts) > 1:
            last_step = float(starts[-1] - starts[-2])
        elif self.metadata.frame_rate:
            last_step = float(1 / self.metadata.frame_rate)
        else:
            last_step = 0.0
        return float(starts[-1]) + max(last_step, 1e-9)

    def _rotate(self, data: np.ndarray, *, batched: bool) -> np.ndarray:
        turns = self.metadata.rotation // 90
        if not self.apply_rotation or turns == 0:
            return data
        if self.layout not in ("rgb", "bgr", "rgb_planar"):
            raise InvalidArgument(
                f"apply_rotation needs an image layout (rgb, bgr, rgb_planar), not {self.layout}"
            )
        # Image axes: (H, W) are the first two of HWC, the last two of CHW; a batch adds a leading axis.
        axes = (1, 2) if self.layout == "rgb_planar" else (0, 1)
        if batched:
            axes = (axes[0] + 1, axes[1] + 1)
        return np.ascontiguousarray(np.rot90(data, k=-turns, axes=axes))

    # --- state --------------------------------------------------------------------------------------
    @property
    def stats(self) -> DecodeStats:
        return DecodeStats(**self._decoder.stats())

    def close(self) -> None:
        self._decoder.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self.metadata
        return f"VideoReader({self.name!r}, {m.codec} {m.width}x{m.height}, device={self.device!r})"


__all__ = ["VideoReader", "VideoMetadata", "Frame", "FrameBatch", "DecodeStats"]
