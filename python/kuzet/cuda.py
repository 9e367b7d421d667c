"""GPU decoding: NVDEC through FFmpeg, frames converted and kept in CUDA memory.

``CudaVideoReader`` yields :class:`CudaFrame` objects whose ``data`` is a :class:`DeviceArray`: a uint8
array in GPU memory (``(H, W, 3)`` for rgb/bgr, ``(3, H, W)`` for rgb_planar, flat for the YUV layouts)
that CuPy, PyTorch, JAX, ... take without a copy::

    with kuzet.cuda.CudaVideoReader("clip.mp4", layout="rgb") as reader:
        for frame in reader:
            tensor = torch.from_dlpack(frame.data)         # or cupy.asarray(frame.data)

A DeviceArray is complete when it is handed out (kuzet synchronises its decode stream first), so its
``__cuda_array_interface__`` carries no stream and ``__dlpack__`` needs none. Its memory is freed when the
last reference (the array, or a tensor made from it) goes away. ``.numpy()`` copies it to the host.
``.reshape(...)`` views it under another shape (no copy), e.g. an NV12 frame as ``(h * 3 // 2, w)``, the form
the face and plate pipelines take with ``pixel_format="nv12"`` on the GPU.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kuzet._native import core
from kuzet.errors import InvalidArgument
from kuzet.video import BufferPolicy, DecodeStats, ErrorPolicy, Layout, Source, VideoMetadata, VideoReader

DeviceArray = core.DeviceArray

_CUDA_DEVICE = re.compile(r"cuda(:[0-9]{1,3})?")


def nvdec_info() -> dict[str, Any]:
    """NVDEC status: ``available``, ``reason`` (why not), ``codecs`` with CUDA decoding in this FFmpeg."""
    return dict(core.nvdec_info())


def is_available() -> bool:
    """Whether this build and machine can decode with NVDEC."""
    return bool(core.nvdec_info()["available"])


@dataclass(frozen=True)
class CudaFrame:
    """One decoded frame in GPU memory. ``pts`` is in seconds, ``pts_raw`` in time-base units."""

    data: Any  # DeviceArray
    pts: float
    pts_raw: int
    index: int
    key_frame: bool


class _GpuFrameReader(VideoReader):
    """The VideoReader under a CudaVideoReader: live, its native thread converts each frame on the GPU (the
    frames never reach the host); otherwise frames are read with next_frame_cuda."""

    _gpu_frames = True


class CudaVideoReader:
    """Decodes a video with NVDEC and delivers frames as :class:`DeviceArray` (GPU memory).

    ``device`` is ``"cuda"`` or ``"cuda:N"``; where NVDEC cannot be used (no CUDA build, no device, or a
    codec/profile NVDEC does not handle) opening raises :class:`kuzet.DeviceUnavailable` saying why (for a
    profile or size NVDEC turns down, at the first frame: a live reader then ends with that error rather than
    reconnecting). ``every_n`` / ``sample_fps`` sample as in :class:`kuzet.VideoReader` (frames left out are
    never converted). ``buffer``, ``buffer_size``, ``reconnect`` and ``reconnect_backoff`` make it a live
    reader as in :class:`kuzet.VideoReader`: a native thread decodes ahead and converts each frame on the GPU
    into a queue of at most ``buffer_size`` GPU frames (sequential reading only). ``nvdec_fallback=True``: a
    stream NVDEC cannot decode is decoded on the CPU instead (``fallback_reason`` says why, with a warning), with
    ``threads`` frame threads (0: FFmpeg's choice), and its frames still come in GPU memory (converted on the
    host, then copied to the GPU); a stream NVDEC turns down only at its first frame (profile, size) is then
    decoded in software, one thread.
    """

    gpu_frames = True  # every frame it hands out is in GPU memory

    def __init__(
        self,
        source: Source,
        *,
        device: str = "cuda",
        layout: Layout = "rgb",
        errors: ErrorPolicy = "raise",
        timeout: float | None = 10.0,
        options: Mapping[str, str] | None = None,
        every_n: int = 1,
        sample_fps: float | None = None,
        buffer: BufferPolicy | None = None,
        buffer_size: int = 8,
        reconnect: int = 0,
        reconnect_backoff: float = 0.5,
        nvdec_fallback: bool = False,
        threads: int = 0,
    ) -> None:
        if not isinstance(device, str) or not _CUDA_DEVICE.fullmatch(device):
            raise InvalidArgument(f"CudaVideoReader device must be 'cuda' or 'cuda:N', got {device!r}")
        self._reader = _GpuFrameReader(
            source, device=device, layout=layout, errors=errors, timeout=timeout, options=options, every_n=every_n,
            sample_fps=sample_fps, buffer=buffer, buffer_size=buffer_size, reconnect=reconnect,
            reconnect_backoff=reconnect_backoff, nvdec_fallback=nvdec_fallback, threads=threads,
        )

    @property
    def name(self) -> str:
        return self._reader.name

    @property
    def device(self) -> str:
        return self._reader.device

    @property
    def layout(self) -> Layout:
        return self._reader.layout

    @property
    def metadata(self) -> VideoMetadata:
        return self._reader.metadata

    @property
    def stats(self) -> DecodeStats:
        return self._reader.stats

    @property
    def live(self) -> bool:
        return self._reader.live

    @property
    def fallback_reason(self) -> str | None:
        """Why the stream is decoded on the CPU (``nvdec_fallback=True`` only), else None."""
        return self._reader.fallback_reason

    def read(self) -> CudaFrame | None:
        """The next frame, or None at the end of the stream."""
        decoder = self._reader._decoder
        out = decoder.next_frame() if self.live else decoder.next_frame_cuda(self._reader.layout)
        if out is None:
            return None
        data, pts_raw, pts, index, key = out
        return CudaFrame(data=data, pts=pts, pts_raw=pts_raw, index=index, key_frame=key)

    def get_frames(self, indices: Sequence[int] | np.ndarray) -> list[CudaFrame]:
        """Frames at these indices of the decoded stream (exact seek, same pixels as sequential reading),
        in the order asked; each index is decoded once, in increasing order."""
        self._reader._require_random_access()
        wanted = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1)]
        decoded: dict[int, CudaFrame] = {}
        for index in sorted(set(wanted)):
            data, pts_raw, pts, at, key = self._reader._decoder.frame_cuda_at(index, self._reader.layout)
            decoded[index] = CudaFrame(data=data, pts=pts, pts_raw=pts_raw, index=at, key_frame=key)
        return [decoded[i] for i in wanted]

    def __iter__(self) -> Iterator[CudaFrame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> CudaVideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self.metadata
        return f"CudaVideoReader({self.name!r}, {m.codec} {m.width}x{m.height}, device={self.device!r})"


__all__ = ["CudaVideoReader", "CudaFrame", "DeviceArray", "nvdec_info", "is_available"]
