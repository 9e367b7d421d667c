"""How kuzet.Pipeline opens its sources with kuzet's own readers: files, live streams (recorded as evidence
when the evidence task runs), and NVDEC decoding into GPU memory when the tasks run on a GPU."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from kuzet.pipeline.builtin_tasks import EvidenceTask
from kuzet.pipeline.source_worker import OpenSource, Sampling

LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "tcp", "udp", "srt")


def is_live(url: str) -> bool:
    return url.split("://", 1)[0].lower() in LIVE_SCHEMES if "://" in url else False


def recording_opener(evidence: EvidenceTask, source: str, device: str, read_timeout: float, live_buffer: str,
                     reconnect: int, corrupt_frames: str, threads: int, sampling: Sampling,
                     frames_device: str = "cpu") -> OpenSource:
    """Live sources under the evidence task: the reader records what it analyses (see EvidenceTask), and
    samples natively like video_reader_opener's. With `frames_device` "cuda:N" its frames are in that GPU's
    memory (NVDEC where it can, else decoded on the CPU and uploaded: one connection, one recording)."""

    def open_reader(url: str) -> Any:
        if frames_device != "cpu":
            return evidence.open_live(source, url, device=frames_device, timeout=read_timeout, threads=threads,
                                      errors=corrupt_frames, buffer=live_buffer, reconnect=reconnect,
                                      every_n=sampling.every_n, sample_fps=sampling.fps, gpu_frames=True)
        return evidence.open_live(source, url, device="cpu" if device == "cpu" else "auto", timeout=read_timeout,
                                  threads=threads, errors=corrupt_frames, buffer=live_buffer, reconnect=reconnect,
                                  every_n=sampling.every_n, sample_fps=sampling.fps)

    return open_reader


def video_reader_opener(device: str, read_timeout: float, live_buffer: str, reconnect: int,
                        corrupt_frames: str, threads: int, sampling: Sampling,
                        frames_device: str = "cpu") -> OpenSource:
    """kuzet's own readers; they sample natively: frames left out are never converted (SourceWorker).

    With `frames_device` "cuda:N" (every task does its pixel work on that GPU) files and live streams are
    decoded by NVDEC into RGB frames that stay in GPU memory. A file NVDEC cannot decode (found when the reader
    opens, or at its first frame: profile or size limits) is decoded on the CPU instead, from its start, so no
    frame is lost, and the pipeline uploads its frames once for all the GPU tasks. A live stream keeps its
    reader (buffer, reconnection, no second connection): where NVDEC cannot decode it, that reader decodes on
    the CPU and uploads each frame it hands out (nvdec_fallback)."""

    def open_reader(url: str) -> Any:
        from kuzet.video import VideoReader

        live = is_live(url)
        if frames_device != "cpu" and live:
            from kuzet.cuda import CudaVideoReader

            return CudaVideoReader(url, device=frames_device, layout="rgb", timeout=read_timeout,
                                   errors=corrupt_frames,  # type: ignore[arg-type]
                                   every_n=sampling.every_n, sample_fps=sampling.fps,
                                   buffer=live_buffer,  # type: ignore[arg-type]
                                   reconnect=reconnect, nvdec_fallback=True, threads=threads)
        if frames_device != "cpu":
            reader = _open_on_nvdec(url, frames_device, read_timeout, corrupt_frames, sampling)
            if reader is not None:
                return reader
        # NVDEC only where it is usable: "auto" falls back to the CPU and says why
        return VideoReader(url, device="cpu" if device == "cpu" else "auto", timeout=read_timeout, threads=threads,
                           errors=corrupt_frames,  # type: ignore[arg-type]
                           buffer=live_buffer if live else None,  # type: ignore[arg-type]
                           reconnect=reconnect if live else 0, every_n=sampling.every_n, sample_fps=sampling.fps)

    return open_reader


def _open_on_nvdec(url: str, device: str, read_timeout: float, corrupt_frames: str,
                   sampling: Sampling) -> _FirstFrameRead | None:
    """A CudaVideoReader of `url` whose first frame NVDEC has decoded, or None where NVDEC cannot decode it."""
    from kuzet.cuda import CudaVideoReader
    from kuzet.errors import DeviceUnavailable

    try:
        reader = CudaVideoReader(url, device=device, layout="rgb", timeout=read_timeout,
                                 errors=corrupt_frames,  # type: ignore[arg-type]
                                 every_n=sampling.every_n, sample_fps=sampling.fps)
    except DeviceUnavailable:
        return None  # the CPU reader opened instead says why
    try:
        first = reader.read()
    except DeviceUnavailable as exc:  # NVDEC refused the stream once it saw it: nothing was handed out yet
        reader.close()
        warnings.warn(f"kuzet.Pipeline: {exc}; decoding it on the CPU from its start", RuntimeWarning, stacklevel=2)
        return None
    except BaseException:
        reader.close()
        raise
    return _FirstFrameRead(reader, first)


class _FirstFrameRead:
    """A CudaVideoReader whose first frame was read ahead (to learn whether NVDEC decodes the stream): yields
    it, then the rest. The pipeline's SourceWorker uses iteration, stats, device, gpu_frames and close."""

    gpu_frames = True  # the frames are in GPU memory

    def __init__(self, reader: Any, first: Any) -> None:
        self._reader = reader
        self._first = first
        self.device: str = reader.device

    @property
    def stats(self) -> Any:
        return self._reader.stats

    def __iter__(self) -> Iterator[Any]:
        if self._first is None:  # an empty stream
            return
        first, self._first = self._first, None
        yield first
        yield from self._reader

    def close(self) -> None:
        self._reader.close()


__all__ = ["LIVE_SCHEMES", "is_live", "recording_opener", "video_reader_opener"]
