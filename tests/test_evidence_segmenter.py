"""The GOP segmenter against an independent pure-Python re-implementation over PyAV's demuxer (a different
FFmpeg build), GOP alignment, live/sequential input and unreadable input."""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import threading
from pathlib import Path

import av
import pytest

from kuzet.evidence import EvidenceError, SegmentRecord, segment_file, stream_segments

NOPTS = -(2**63)
HASHED_FLAGS = {"is_keyframe": 0x1, "is_corrupt": 0x2, "is_discard": 0x4, "is_disposable": 0x10}

# (file, whether the container stores per-packet timestamps). AVI stores none: its demuxer computes them,
# differently in PyAV's FFmpeg 8 than in FFmpeg 5.1, so there only packets and boundaries are compared.
VIDEOS = [
    ("faces/video/short_hamilton_clip.mp4", True),  # H.264 + AAC, 6 GOPs
    ("plates/video/license_plate_uk.mp4", True),  # H.264 + AAC, 2 GOPs
    ("faces/video/intel_asl_again.mkv", True),  # Matroska (stores pts only; dts not inferred)
    ("faces/video/opencv_Megamind.avi", False),  # MPEG-4 part 2 + AC-3 in AVI
]


def _flags(pkt: av.Packet) -> int:
    return sum(bit for name, bit in HASHED_FLAGS.items() if getattr(pkt, name))


def _combine(streams: dict[int, dict]) -> tuple[bytes, bytes]:
    payload = hashlib.sha256(struct.pack(">I", len(streams)))
    timing = hashlib.sha256(struct.pack(">I", len(streams)))
    for index in sorted(streams):
        st = streams[index]
        header = struct.pack(">IQ", index, st["packets"])
        payload.update(header + st["payload"].digest())
        timing.update(header + st["timing"].digest())
    return payload.digest(), timing.digest()


def reference_segments(path: Path, target_s: float) -> list[dict]:
    """docs/evidence-format.md section 'Segmentation', written independently of the C++ code."""
    container = av.open(str(path), options={"fflags": "+nofillin"})
    video = next(s for s in container.streams if s.type == "video")
    vtb = video.time_base
    target_ticks = round(target_s * vtb.denominator / vtb.numerator)
    segments: list[dict] = []
    cur: dict | None = None
    for pkt in container.demux():
        if pkt.size == 0 and pkt.pts is None and pkt.dts is None:
            continue  # PyAV's end-of-stream flush packets
        is_video = pkt.stream_index == video.index
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        if cur is not None and is_video and pkt.is_keyframe and cur["start"] is not None and ts is not None:
            if ts - cur["start"] >= target_ticks:
                segments.append(cur)
                cur = None
        if cur is None:
            cur = {"streams": {}, "start": None, "end": None, "packets": 0, "bytes": 0}
        st = cur["streams"].setdefault(
            pkt.stream_index, {"payload": hashlib.sha256(), "timing": hashlib.sha256(), "packets": 0}
        )
        data = bytes(pkt)
        st["payload"].update(struct.pack(">IQ", _flags(pkt), len(data)) + data)
        st["timing"].update(struct.pack(">qq", *(NOPTS if t is None else t for t in (pkt.pts, pkt.dts))))
        st["packets"] += 1
        cur["packets"] += 1
        cur["bytes"] += len(data)
        if is_video and ts is not None:
            if cur["start"] is None:
                cur["start"] = ts
            cur["end"] = ts if cur["end"] is None else max(cur["end"], ts)
    if cur is not None:
        segments.append(cur)
    out = []
    for s in segments:
        payload, timing = _combine(s["streams"])
        out.append(
            {
                "payload": payload,
                "timing": timing,
                "start_pts": s["start"],
                "end_pts": s["end"],
                "packet_count": s["packets"],
                "byte_length": s["bytes"],
                "time_base": (vtb.numerator, vtb.denominator),
            }
        )
    return out


@pytest.mark.parametrize(("relpath", "stored_timestamps"), VIDEOS)
@pytest.mark.parametrize("target_s", [0.0, 1.0, 2.0])
def test_segments_match_independent_reference(
    data_dir: Path, relpath: str, stored_timestamps: bool, target_s: float
) -> None:
    path = data_dir / relpath
    seg = segment_file(path, target_duration_s=target_s)
    assert seg.error is None
    ref = reference_segments(path, target_s)
    assert len(seg.records) == len(ref)
    for record, expected in zip(seg.records, ref, strict=True):
        assert record.payload_digest == expected["payload"], record.index
        if stored_timestamps:
            assert record.timing_digest == expected["timing"], record.index
            assert (record.start_pts, record.end_pts) == (expected["start_pts"], expected["end_pts"])
        assert (record.packet_count, record.byte_length) == (
            expected["packet_count"],
            expected["byte_length"],
        )
        assert record.time_base == expected["time_base"]
    assert seg.packet_count == sum(r.packet_count for r in seg.records)


def test_hamilton_segments_are_gop_aligned(data_dir: Path) -> None:
    path = data_dir / "faces/video/short_hamilton_clip.mp4"
    # ffprobe: video key frames at pts 10214, 34214, 58214, 75414, 94614, 118614 (time base 1/11988)
    keyframes = [10214, 34214, 58214, 75414, 94614, 118614]
    every_gop = segment_file(path, target_duration_s=0.0).records
    assert [r.start_pts for r in every_gop] == keyframes
    # 2 s = 23976 ticks: close at the first key frame at least that far from the segment start
    two_s = segment_file(path, target_duration_s=2.0).records
    assert [r.start_pts for r in two_s] == [10214, 34214, 58214, 94614, 118614]
    assert sum(r.packet_count for r in two_s) == sum(r.packet_count for r in every_gop)
    assert all(a.start_pts < a.end_pts < b.start_pts for a, b in zip(two_s, two_s[1:], strict=False))


def test_segmentation_is_deterministic_and_metadata_only_changes_leaf(data_dir: Path) -> None:
    path = data_dir / "plates/video/license_plate_uk.mp4"
    a = segment_file(path, target_duration_s=2.0)
    b = segment_file(path, target_duration_s=2.0, metadata={"device_id": "cam-7", "gps": "51.5,-0.12"})
    assert [r.payload_digest for r in a.records] == [r.payload_digest for r in b.records]
    assert [r.leaf_hash() for r in a.records] != [r.leaf_hash() for r in b.records]
    assert b.records[0].metadata == {"device_id": "cam-7", "gps": "51.5,-0.12"}


def _hamilton_as_mpegts(data_dir: Path, tmp_path: Path) -> Path:
    """The hamilton clip re-muxed (no re-encode) into MPEG-TS, the container live cameras stream."""
    ts_file = tmp_path / "clip.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(data_dir / "faces/video/short_hamilton_clip.mp4"),
                    "-c", "copy", "-f", "mpegts", str(ts_file)], check=True)
    return ts_file


def test_live_source_through_a_fifo_matches_the_file(data_dir: Path, tmp_path: Path) -> None:
    ts_file = _hamilton_as_mpegts(data_dir, tmp_path)
    fifo = tmp_path / "live.fifo"
    os.mkfifo(fifo)

    def feed() -> None:  # a camera writing its stream in small chunks
        with open(ts_file, "rb") as src, open(fifo, "wb") as dst:
            shutil.copyfileobj(src, dst, length=4096)

    writer = threading.Thread(target=feed)
    writer.start()
    received: list[SegmentRecord] = []
    error = stream_segments(fifo, received.append, target_duration_s=1.0, input_format="mpegts")
    writer.join()
    assert error is None
    from_file = segment_file(ts_file, target_duration_s=1.0).records
    assert len(received) == len(from_file) >= 5
    assert [r.leaf_hash() for r in received] == [r.leaf_hash() for r in from_file]


def test_callback_can_stop_segmenting(data_dir: Path) -> None:
    seen: list[int] = []
    stream_segments(
        data_dir / "faces/video/short_hamilton_clip.mp4",
        lambda r: seen.append(r.index) or len(seen) < 2,
        target_duration_s=0.0,
    )
    assert seen == [0, 1]


def test_callback_exception_propagates(data_dir: Path) -> None:
    def boom(record: SegmentRecord) -> None:
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        stream_segments(data_dir / "faces/video/short_hamilton_clip.mp4", boom)


def test_unreadable_inputs_raise_evidence_error(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="cannot open"):
        segment_file(tmp_path / "does-not-exist.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(EvidenceError, match="garbage.mp4"):
        segment_file(garbage)
    audio_only = tmp_path / "audio.m4a"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(data_dir / "plates/video/license_plate_uk.mp4"),
            "-vn",
            "-c",
            "copy",
            str(audio_only),
        ],
        check=True,
    )
    with pytest.raises(EvidenceError, match="no video stream"):
        segment_file(audio_only)
    with pytest.raises(ValueError, match="target_duration_s"):
        segment_file(data_dir / "plates/video/license_plate_uk.mp4", target_duration_s=-1)
    with pytest.raises(ValueError, match="unknown input format"):
        segment_file(data_dir / "plates/video/license_plate_uk.mp4", input_format="no-such-format")


def test_truncated_file_keeps_the_intact_segments(data_dir: Path, tmp_path: Path) -> None:
    mkv = tmp_path / "full.mkv"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(data_dir / "faces/video/short_hamilton_clip.mp4"),
            "-c",
            "copy",
            str(mkv),
        ],
        check=True,
    )
    cut = tmp_path / "cut.mkv"
    data = mkv.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    full = segment_file(mkv, target_duration_s=0.0)
    part = segment_file(cut, target_duration_s=0.0)
    assert part.byte_length < full.byte_length
    assert 2 <= len(part.records) < len(full.records)
    last = len(part.records) - 1
    assert [r.leaf_hash() for r in part.records[:last]] == [r.leaf_hash() for r in full.records[:last]]
    assert part.records[last].payload_digest != full.records[last].payload_digest


@pytest.mark.parametrize(
    "relpath",
    ["conformance/sage/example.mkv", "conformance/sage/example.mp4", "faces/video/intel_asl_thanks.mkv"],
)
def test_corrupted_media_never_crashes(data_dir: Path, tmp_path: Path, relpath: str) -> None:
    """Random byte corruption: the segmenter returns records (maybe with an error) or raises EvidenceError."""
    import random

    original = (data_dir / relpath).read_bytes()
    rng = random.Random(relpath)
    target = tmp_path / Path(relpath).name
    outcomes = set()
    for _ in range(40):
        data = bytearray(original)
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(1, len(data))]
        target.write_bytes(bytes(data))
        try:
            seg = segment_file(target, target_duration_s=rng.choice([0.0, 0.5, 2.0]))
        except EvidenceError:
            outcomes.add("error")
        else:
            outcomes.add("segments")
            assert seg.packet_count == sum(r.packet_count for r in seg.records)
    assert "segments" in outcomes  # damaged files still yield records; above all, the process is alive


class _Stop(Exception):
    pass


def test_signal_interrupts_a_blocked_live_source(data_dir: Path, tmp_path: Path) -> None:
    """A camera that stops sending (FIFO open, no data) must not make the recorder unkillable: a signal
    handler's exception (like Ctrl-C's KeyboardInterrupt) ends segmenting; the open segment is passed on."""
    import signal
    import time

    ts_file = _hamilton_as_mpegts(data_dir, tmp_path)
    fifo = tmp_path / "stalled.fifo"
    os.mkfifo(fifo)
    data = ts_file.read_bytes()
    release = threading.Event()

    def stall() -> None:  # sends 60 % of the stream, then hangs with the pipe open
        with open(fifo, "wb") as dst:
            dst.write(data[: len(data) * 6 // 10])
            dst.flush()
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGUSR1)
            release.wait(10)

    def raise_stop(signum, frame):
        raise _Stop()

    previous = signal.signal(signal.SIGUSR1, raise_stop)
    writer = threading.Thread(target=stall)
    writer.start()
    received: list[SegmentRecord] = []
    try:
        with pytest.raises(_Stop):
            stream_segments(fifo, received.append, target_duration_s=1.0, input_format="mpegts")
    finally:
        release.set()
        writer.join()
        signal.signal(signal.SIGUSR1, previous)
    assert 2 <= len(received) < 6
    full = segment_file(ts_file, target_duration_s=1.0).records
    closed = len(received) - 1  # the last one was cut off by the stall
    assert [r.leaf_hash() for r in received[:closed]] == [r.leaf_hash() for r in full[:closed]]
