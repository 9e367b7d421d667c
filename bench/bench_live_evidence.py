"""Live evidence recording benchmark: what recording + sealing a live source costs on top of decoding it.

    PYTHONPATH=python python3 -m pytest bench/bench_live_evidence.py -s --benchmark-only

A local TCP "camera" sends a 20 s 640x360 H.264 MPEG-TS clip as fast as it is read. Measured in the same run:
  * baseline: the live reader decoding it (kuzet.VideoReader(buffer="block")), the work the pipeline does anyway;
  * kuzet: the pipeline's recording reader on the same stream: decoding plus the MPEG-TS recording, the
    in-memory segmenter and a signed checkpoint per 2 s segment;
  * reference: `ffmpeg -i tcp://... -c copy rec.ts` (recording alone, no decoding, nothing hashed or signed).
Reported: frames/s of each and the recording's overhead ratio (target: within 10% of decoding alone).
Run on the clip alone and with a 128 kb/s stereo AAC track (the recording then keeps the audio too, which the
decode-only reader skips at the demuxer).
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from kuzet.evidence import generate_keypair
from kuzet.pipeline.live_evidence import LiveRecording, RecordingReader
from kuzet.video import VideoReader
from memory import PeakRss

SECONDS, FPS = 20, 25


@pytest.fixture(scope="module", params=["video", "video+aac"])
def clip(request: pytest.FixtureRequest) -> bytes:
    audio = ["-f", "lavfi", "-i", f"anoisesrc=d={SECONDS}:c=pink:r=48000:a=0.3", "-c:a", "aac", "-b:a", "128k",
             "-ac", "2"] if request.param == "video+aac" else []  # fmt: skip
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}:duration={SECONDS}",
         *audio, "-c:v", "libx264", "-g", str(FPS), "-f", "mpegts", "-"], capture_output=True, check=True).stdout


def _camera(payload: bytes) -> str:
    sock = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with sock:
            conn, _ = sock.accept()
            with conn:
                conn.sendall(payload)

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{sock.getsockname()[1]}"


def _decode_only(payload: bytes) -> int:
    with VideoReader(_camera(payload), device="cpu", buffer="block", threads=2) as reader:
        return sum(1 for _ in reader)


def _decode_and_record(payload: bytes) -> int:
    with tempfile.TemporaryDirectory() as out:
        recording = LiveRecording("cam", Path(out) / "cam", generate_keypair(), 2.0)
        reader = RecordingReader(_camera(payload), recording, device="cpu", timeout=10, threads=2, errors="skip",
                                 buffer="block", reconnect=0)
        try:
            n = sum(1 for _ in reader)
        finally:
            reader.close()
        assert recording.sealed()[0]["tree_size"] == SECONDS // 2
        return n


def _ffmpeg_copy(payload: bytes) -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["ffmpeg", "-v", "error", "-i", _camera(payload), "-c", "copy", "-f", "mpegts",
                        str(Path(out) / "rec.ts")], check=True)


def _best(fn, payload: bytes, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn(payload)
        times.append(time.perf_counter() - t0)
    return min(times)


def test_live_recording_overhead_vs_decoding_alone(benchmark, clip: bytes) -> None:
    frames = SECONDS * FPS
    assert _decode_only(clip) == frames and _decode_and_record(clip) == frames
    decode = _best(_decode_only, clip)
    ffmpeg = _best(_ffmpeg_copy, clip)
    benchmark.pedantic(_decode_and_record, args=(clip,), rounds=3, iterations=1)
    record = benchmark.stats.stats.min
    with PeakRss() as mem_decode:
        _decode_only(clip)
    with PeakRss() as mem_record:
        _decode_and_record(clip)
    benchmark.extra_info.update(peak_rss_growth_mb_decode_only=mem_decode.growth_mb,
                                peak_rss_growth_mb_decode_record_seal=mem_record.growth_mb)
    print(f"\nlive decode only: {frames / decode:.0f} fps; decode + record + seal: {frames / record:.0f} fps "
          f"(overhead x{record / decode:.3f}); ffmpeg -c copy (record only): {frames / ffmpeg:.0f} fps; "
          f"peak memory above the process: decode only +{mem_decode.growth_mb:.1f} MB, decode + record + seal "
          f"+{mem_record.growth_mb:.1f} MB")
