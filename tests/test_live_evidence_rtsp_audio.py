"""RTSP body cameras with audio: H.264 + AAC over RTP (two media lines, two SETUPs, interleaved channels 0-1 and
2-3), with FFmpeg's own RTCP sender reports, recorded as evidence while analysed.

FFmpeg's RTSP demuxer dates each stream by its own RTP clock until that stream's first sender report, then by
the sender's NTP clock, which ties the streams together: a stream's timestamps jump at that moment (here the
audio goes back about 80 ms). The recorder waits for that synchronisation before it writes the audio, so every
audio packet the camera sent is in the recording, timed against the video as the sender reports say.

The cameras replay FFmpeg captures (tests/rtsp_server.py): one made in real time (each stream's first sender
report about 1.3 s into the stream, after x264's look-ahead) and one made at once (the reports precede the
first packets). The audio is checked against an independent depacketisation of what the camera sent (RFC 3640
AAC-hbr), and every frame's segment against a mapping made from the recording file alone."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from kuzet.evidence import generate_keypair
from rtsp_server import RtpCapture, RtspCamera, Session, capture_h264_aac_rtp
from test_live_evidence import _assert_verifies, _independent_segments, _run

VIDEO, AUDIO = 0, 1  # the capture's streams
AAC_FRAME = 1024  # samples per AAC-LC access unit


@pytest.fixture(scope="module", params=["late reports", "early reports"])
def capture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RtpCapture:
    realtime = request.param == "late reports"
    return capture_h264_aac_rtp(tmp_path_factory.mktemp("rtsp-aac"), seconds=3, realtime=realtime)


def _access_units(rtp: list[bytes]) -> list[tuple[int, bytes]]:
    """(RTP timestamp, payload) of every AAC access unit in RFC 3640 AAC-hbr RTP packets (sizelength=13,
    indexlength=3, as FFmpeg's SDP says): a 16-bit AU-headers length in bits, one 16-bit header per AU, then
    the AUs back to back; the n-th AU of a packet is n frames after the packet's timestamp."""
    units = []
    for packet in rtp:
        assert packet[0] & 0x3F == 0x00 and packet[0] >> 6 == 2  # RTP v2, no padding, extension or CSRC
        stamp = int.from_bytes(packet[4:8], "big")
        payload = packet[12:]
        headers = int.from_bytes(payload[:2], "big") // 16
        sizes = [int.from_bytes(payload[2 + 2 * i : 4 + 2 * i], "big") >> 3 for i in range(headers)]
        at = 2 + 2 * headers
        for n, size in enumerate(sizes):
            units.append(((stamp + n * AAC_FRAME) % 2**32, payload[at : at + size]))
            at += size
        assert at == len(payload)
    return units


def _recorded_audio(recording: Path) -> tuple[list[bytes], list[float], float]:
    """The recording's AAC payloads (ADTS headers taken off), their pts and its latest video pts (seconds),
    demuxed by PyAV."""
    import av

    with av.open(str(recording)) as container:
        audio, video = container.streams.audio[0], container.streams.video[0]
        assert audio.codec_context.codec.canonical_name == "aac"
        payloads, times, video_end = [], [], float("-inf")
        for p in container.demux(audio, video):
            if not p.size:
                continue
            if p.stream.type == "video":
                video_end = max(video_end, float(p.pts * p.time_base))
                continue
            data = bytes(p)
            assert data[:2] == b"\xff\xf1"  # ADTS, MPEG-4, no CRC: a 7-byte header
            payloads.append(data[7:])
            times.append(float(p.pts * p.time_base))
    return payloads, times, video_end


def _assert_audio_is_what_the_camera_sent(capture: RtpCapture, sent: list[tuple[int, bytes]], recording: Path):
    units = _access_units(capture.rtp(AUDIO, sent))
    payloads, times, video_end = _recorded_audio(recording)
    assert len(units) > 30
    assert len(payloads) == len(units), "every audio packet the camera sent is recorded, once"
    assert payloads == [payload for _, payload in units]
    # timed against the video as the sender reports say. The reference: the latest video frame (its RTP
    # timestamp is its pts; the recorder may have dated the first, untimed ones itself).
    stamps = [int.from_bytes(p[4:8], "big") for p in capture.rtp(VIDEO, sent)]
    latest = max(stamps, key=lambda stamp: (stamp - stamps[0]) % 2**32)
    video_at = capture.sender_time(VIDEO, latest)
    for (stamp, _), recorded in zip(units, times, strict=True):
        expected = capture.sender_time(AUDIO, stamp) - video_at
        assert abs((recorded - video_end) - expected) < 0.002, (stamp, recorded - video_end, expected)


def _assert_every_frame_names_its_segment(frames: Any, recordings: list[Path]) -> None:
    truth: list[int] = []
    for recording in recordings:
        truth += _independent_segments(recording, 2.0)
    assert len(frames.frames) == len(truth)
    assert [seg["segment"] if seg else None for _, _, seg in frames.frames] == truth


@pytest.mark.timeout(60)
def test_an_rtsp_camera_with_aac_is_recorded_with_every_audio_packet_it_sent(capture: RtpCapture, tmp_path: Path):
    key = generate_keypair()
    with RtspCamera(capture) as camera:
        _, events, frames = _run(camera.url, tmp_path, key, reconnect=0)
    # two media lines, two SETUPs on their own interleaved channels
    assert [t.split("interleaved=")[-1] for t in camera.transports if "TCP" in t] == ["0-1", "2-3"]
    assert not [e.data for e in events if e.kind in ("evidence_error", "source_error")]
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    recording, manifest = Path(sealed["recording"]), Path(sealed["manifest"])
    _assert_verifies(recording, manifest, key)
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_key.pem)
    cli = subprocess.run(["python3", "-m", "kuzet", "verify", str(recording), "--manifest", str(manifest),
                          "--key", str(pub)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr

    _assert_audio_is_what_the_camera_sent(capture, camera.sent[0], recording)
    assert len(frames.frames) == capture.frames == 75
    _assert_every_frame_names_its_segment(frames, [recording])


@pytest.mark.timeout(60)
def test_a_reconnection_gives_a_second_recording_with_its_audio_too(capture: RtpCapture, tmp_path: Path):
    key = generate_keypair()
    # the camera drops 1.6 s in (after the sender reports of the first connection), then serves it all again
    with RtspCamera(capture, (Session(stop_after=1.6, then="close"), Session())) as camera:
        pipeline, events, frames = _run(camera.url, tmp_path, key, reconnect=1)
    assert camera.plays == 2 and pipeline.metrics.source("cam").reconnects == 1
    assert not [e.data for e in events if e.kind == "evidence_error"]
    sealed = sorted((e.data for e in events if e.kind == "evidence"), key=lambda d: d["connection"])
    assert [d["connection"] for d in sealed] == [0, 1]
    recordings = [Path(d["recording"]) for d in sealed]
    for d, recording, sent in zip(sealed, recordings, camera.sent, strict=True):
        _assert_verifies(recording, Path(d["manifest"]), key)
        _assert_audio_is_what_the_camera_sent(capture, sent, recording)
    assert len(frames.frames) > capture.frames  # both connections' frames
    _assert_every_frame_names_its_segment(frames, recordings)
