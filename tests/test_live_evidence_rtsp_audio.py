"""RTSP body cameras with audio: H.264 + AAC over RTP (two media lines, two SETUPs, interleaved channels 0-1 and
2-3), with FFmpeg's own RTCP sender reports, recorded as evidence while analysed.

FFmpeg's RTSP demuxer dates each stream by its own RTP clock until that stream's first sender report, then by
the sender's NTP clock, which ties the streams together: a stream's timestamps jump at that moment (here the
audio goes back about 80 ms). The recorder waits for the audio's report before it writes the audio, so every
audio packet the camera sent is in the recording, timed against the video as the sender reports say. When
the audio is reported first, it is FFmpeg's video timestamps that step: reported, never silent; so is audio
that no report ever times.

The cameras replay FFmpeg captures (tests/rtsp_server.py): one made in real time (each stream's first sender
report about 1.3 s into the stream, after x264's look-ahead) and one made at once (the reports precede the
first packets). The audio is checked against an independent depacketisation of what the camera sent (RFC 3640
AAC-hbr), the timing of every packet against the sender reports, and every frame's segment against a mapping
made from the recording file alone."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from kuzet.evidence import generate_keypair
from rtsp_server import RtpCapture, RtspCamera, Session, capture_h264_aac_rtp
from test_live_evidence import _assert_verifies, _independent_segments, _run

VIDEO, AUDIO = 0, 1  # the capture's streams
AAC_FRAME = 1024  # samples per AAC-LC access unit


@pytest.fixture(scope="module")
def late_reports(tmp_path_factory: pytest.TempPathFactory) -> RtpCapture:
    return capture_h264_aac_rtp(tmp_path_factory.mktemp("rtsp-aac"), seconds=3, realtime=True)


@pytest.fixture(scope="module")
def early_reports(tmp_path_factory: pytest.TempPathFactory) -> RtpCapture:
    return capture_h264_aac_rtp(tmp_path_factory.mktemp("rtsp-aac"), seconds=3, realtime=False)


def _video_step(capture: RtpCapture, sent: list[tuple[int, bytes]]) -> float:
    """With the audio reported first, how far FFmpeg's timestamps of the video step at its own report: from
    dating it by its RTP clock from its first packet to dating it on the audio's, by the sender's clock."""
    first_video, first_audio = (int.from_bytes(capture.rtp(s, sent)[0][4:8], "big") for s in (VIDEO, AUDIO))
    return capture.sender_time(VIDEO, first_video) - capture.sender_time(AUDIO, first_audio)


@pytest.fixture(params=["late reports", "early reports", "audio reported first"])
def capture(request: pytest.FixtureRequest) -> RtpCapture:
    if request.param == "audio reported first":
        return _reported_first(request.getfixturevalue("late_reports"), AUDIO)
    return _reported_first(request.getfixturevalue(request.param.replace(" ", "_")), VIDEO)


def _reported_first(capture: RtpCapture, stream: int, *, audio_starts_after: int = 0) -> RtpCapture:
    """The same camera with `stream`'s first sender report delivered before the other's (they go on separate
    RTCP channels, within a few milliseconds here, in either order): FFmpeg times the streams from the first
    one's, and the other's timestamps jump at its own report. `audio_starts_after`: the first audio RTP
    packets are never sent (the audio starts later than the video)."""
    skipped = set([i for i, (channel, _) in enumerate(capture.packets) if channel == 2 * AUDIO][:audio_starts_after])
    packets = [p for i, p in enumerate(capture.packets) if i not in skipped]
    times = [t for i, t in enumerate(capture.times) if i not in skipped]
    first = next(i for i, (channel, _) in enumerate(packets) if channel == 2 * stream + 1)
    other = next(i for i, (channel, _) in enumerate(packets) if channel % 2 and channel != 2 * stream + 1)
    if other < first:
        report, at = packets.pop(other), times.pop(other)
        packets.insert(first, report)  # just after `stream`'s (which moved one place up)
        times.insert(first, max(at, times[first - 1]))
    return replace(capture, packets=tuple(packets), times=tuple(times))


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


def _recorded(recording: Path) -> tuple[list[bytes], list[float], list[float]]:
    """The recording's AAC payloads (ADTS headers taken off) and their pts, and its video packets' pts
    (seconds), in demux order, by PyAV."""
    import av

    with av.open(str(recording)) as container:
        audio, video = container.streams.audio[0], container.streams.video[0]
        assert audio.codec_context.codec.canonical_name == "aac"
        payloads, audio_times, video_times = [], [], []
        for p in container.demux(audio, video):
            if not p.size:
                continue
            assert p.pts is not None  # the recorder dates every packet it writes
            if p.stream.type == "video":
                video_times.append(float(p.pts * p.time_base))
                continue
            data = bytes(p)
            assert data[:2] == b"\xff\xf1"  # ADTS, MPEG-4, no CRC: a 7-byte header
            payloads.append(data[7:])
            audio_times.append(float(p.pts * p.time_base))
    return payloads, audio_times, video_times


def _frame_stamps(rtp: list[bytes]) -> list[int]:
    """The RTP timestamp of each video frame, in sending (decode) order: its packets share one."""
    stamps = [int.from_bytes(p[4:8], "big") for p in rtp]
    return [s for i, s in enumerate(stamps) if i == 0 or s != stamps[i - 1]]


def _assert_recorded_as_the_camera_sent(capture: RtpCapture, sent: list[tuple[int, bytes]], recording: Path,
                                        video_early: float = 0.0) -> None:
    """Every AAC frame sent, byte for byte, and every packet timed against the others as the sender reports
    say (but the first video frame, which FFmpeg hands out untimed; with `video_early`, the frames before the
    video's first sender report, which are that early)."""
    units = _access_units(capture.rtp(AUDIO, sent))
    payloads, audio_times, video_times = _recorded(recording)
    assert len(units) > 30
    assert len(payloads) == len(units), "every audio packet the camera sent is recorded, once"
    assert payloads == [payload for _, payload in units]
    frames = _frame_stamps(capture.rtp(VIDEO, sent))
    assert len(video_times) == len(frames)
    # the reference: the latest frame (the recording's timestamps are the sender's, shifted by a constant)
    latest = max(range(len(frames)), key=lambda i: (frames[i] - frames[0]) % 2**32)
    offset = video_times[latest] - capture.sender_time(VIDEO, frames[latest])
    for (stamp, _), recorded in zip(units, audio_times, strict=True):
        expected = capture.sender_time(AUDIO, stamp) + offset
        assert abs(recorded - expected) < 0.002, ("audio", stamp, recorded, expected)
    off = [(i, recorded - capture.sender_time(VIDEO, stamp) - offset)
           for i, (stamp, recorded) in enumerate(zip(frames, video_times, strict=True))
           if i and abs(recorded - capture.sender_time(VIDEO, stamp) - offset) > 0.002]  # fmt: skip
    if not video_early:
        assert not off, off
    else:  # the frames before the video's report, all of them and no other, by as much as reported
        assert [i for i, _ in off] == list(range(1, len(off) + 1)) and len(off) > 20, off
        assert all(abs(early + video_early) < 0.002 for _, early in off), off


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
    assert not [e.data for e in events if e.kind == "source_error"]
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    audio_first = next(channel for channel, _ in capture.packets if channel % 2) == 2 * AUDIO + 1  # RTCP
    step = _video_step(capture, camera.sent[0]) if audio_first else 0.0
    if audio_first:  # FFmpeg re-times the video at its report, 79 ms forward: said so, nothing left out
        (problem,) = problems
        match = re.search(r"video stream 0 \(h264\) stepped (\d+) ms forward at its first RTCP sender report", problem)
        assert match and abs(int(match.group(1)) - step * 1000) <= 1 and step > 0.05, problem
    else:
        assert not problems
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    recording, manifest = Path(sealed["recording"]), Path(sealed["manifest"])
    _assert_verifies(recording, manifest, key)
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_key.pem)
    cli = subprocess.run(["python3", "-m", "kuzet", "verify", str(recording), "--manifest", str(manifest),
                          "--key", str(pub)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert cli.returncode == 0, cli.stdout + cli.stderr

    _assert_recorded_as_the_camera_sent(capture, camera.sent[0], recording, video_early=step)
    assert len(frames.frames) == capture.frames == 75
    _assert_every_frame_names_its_segment(frames, [recording])


@pytest.mark.timeout(60)
def test_a_reconnection_gives_a_second_recording_with_its_audio_too(late_reports: RtpCapture, tmp_path: Path):
    key = generate_keypair()
    # the camera drops 0.3 s after its first sender reports (about 1.6 s in), then serves it all again
    capture = _reported_first(late_reports, VIDEO)
    reported = max(next(t for (c, _), t in zip(capture.packets, capture.times, strict=True) if c == 2 * stream + 1)
                   for stream in (VIDEO, AUDIO))  # fmt: skip
    assert reported + 0.3 < capture.times[-1] - 0.5
    with RtspCamera(capture, (Session(stop_after=reported + 0.3, then="close"), Session())) as camera:
        pipeline, events, frames = _run(camera.url, tmp_path, key, reconnect=1)
    assert camera.plays == 2 and pipeline.metrics.source("cam").reconnects == 1
    assert not [e.data for e in events if e.kind == "evidence_error"]
    sealed = sorted((e.data for e in events if e.kind == "evidence"), key=lambda d: d["connection"])
    assert [d["connection"] for d in sealed] == [0, 1]
    recordings = [Path(d["recording"]) for d in sealed]
    for d, recording, sent in zip(sealed, recordings, camera.sent, strict=True):
        _assert_verifies(recording, Path(d["manifest"]), key)
        _assert_recorded_as_the_camera_sent(capture, sent, recording)
    assert len(frames.frames) > capture.frames  # both connections' frames
    _assert_every_frame_names_its_segment(frames, recordings)


@pytest.mark.timeout(60)
def test_audio_without_a_sender_report_is_recorded_whole_and_reported(late_reports: RtpCapture, tmp_path: Path):
    # a camera that sends no sender report for its audio until its closing BYE: FFmpeg keeps dating the audio
    # by its RTP clock (from the RTP-Info), so the recorder, having waited to the end, writes it so
    def audio_report(channel: int, packet: bytes) -> bool:
        return channel == 2 * AUDIO + 1 and len(packet) == 28  # an SR alone; the BYE goes in a compound
    kept = [i for i, (c, p) in enumerate(late_reports.packets) if not audio_report(c, p)]
    assert len(kept) == len(late_reports.packets) - 1
    camera_capture = replace(late_reports, packets=tuple(late_reports.packets[i] for i in kept),
                             times=tuple(late_reports.times[i] for i in kept))  # fmt: skip
    key = generate_keypair()
    with RtspCamera(camera_capture) as camera:
        _, events, frames = _run(camera.url, tmp_path, key, reconnect=0)
    (problem,) = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert "no RTCP sender report timed its audio stream 1 (aac) before the connection ended" in problem
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    recording = Path(sealed["recording"])
    _assert_verifies(recording, Path(sealed["manifest"]), key)
    units = _access_units(camera_capture.rtp(AUDIO, camera.sent[0]))
    payloads, audio_times, _ = _recorded(recording)
    assert payloads == [payload for _, payload in units]  # every audio packet, once, in order
    # dated by its RTP clock alone: one frame after the other
    steps = {round((b - a) * 48000) for a, b in zip(audio_times, audio_times[1:], strict=False)}
    assert steps == {AAC_FRAME}
    _assert_every_frame_names_its_segment(frames, [recording])


@pytest.mark.timeout(60)
def test_a_video_timed_back_at_its_report_is_reported(late_reports: RtpCapture, tmp_path: Path):
    # the audio reported first, and starting 0.24 s after the video: FFmpeg's video timestamps go back 0.24 s
    # at the video's own report (onto the audio's timeline), over the frames before it
    capture = _reported_first(late_reports, AUDIO, audio_starts_after=2)
    key = generate_keypair()
    with RtspCamera(capture) as camera:
        _, events, frames = _run(camera.url, tmp_path, key, reconnect=0)
    assert _video_step(capture, camera.sent[0]) < -0.2
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert "video stream 0 (h264) went back at its first RTCP sender report" in problems[0]
    assert "a packet of its video stream 0 (h264) whose decode timestamp does not increase" in problems[1]
    assert re.search(r": \d+ packets whose decode timestamp did not increase were left out", problems[2])
    assert len(problems) == 3
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    recording = Path(sealed["recording"])
    _assert_verifies(recording, Path(sealed["manifest"]), key)
    # the audio is whole all the same, byte for byte
    payloads, _, _ = _recorded(recording)
    assert payloads == [payload for _, payload in _access_units(capture.rtp(AUDIO, camera.sent[0]))]
    assert len(frames.frames) == 75


@pytest.mark.timeout(90)
def test_audio_reported_after_the_wait_is_recorded_whole_continuous_and_reported(tmp_path: Path):
    # A camera whose audio's first sender report comes 11.5 s in (e.g. an RTCP channel that starts late): the
    # recorder holds the audio for 10 s of audio time, then writes it as FFmpeg dates it, by its RTP clock
    # (reported); when the report comes, FFmpeg's dates of the audio jump, and the recorder keeps the audio
    # continuous instead (reported with the offset): no packet lost, none out of order, no gap or overlap.
    (tmp_path / "capture").mkdir()
    capture = capture_h264_aac_rtp(tmp_path / "capture", seconds=13)
    reports = [i for i, (c, p) in enumerate(capture.packets) if c == 2 * AUDIO + 1 and len(p) == 28]  # SRs alone
    assert reports
    packets = [p for i, p in enumerate(capture.packets) if i not in reports]
    times = [t for i, t in enumerate(capture.times) if i not in reports]
    late = next(i for i, t in enumerate(times) if t - times[0] >= 11.5)
    packets.insert(late, capture.packets[reports[0]])  # its NTP/RTP pair is as valid later as it was then
    times.insert(late, times[late - 1])
    camera_capture = replace(capture, packets=tuple(packets), times=tuple(times))
    key = generate_keypair()
    with RtspCamera(camera_capture) as camera:
        _, events, frames = _run(camera.url, tmp_path, key, reconnect=0)
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    gave_up = [m for m in problems if "no RTCP sender report timed its audio stream 1 (aac) within 10 s of audio" in m]
    late_report = [m for m in problems if "first RTCP sender report of its audio stream 1 (aac) came after it "
                   "stopped waiting for it" in m]  # fmt: skip
    assert len(gave_up) == 1 and len(late_report) == 1 and len(problems) == 2, problems
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    recording = Path(sealed["recording"])
    _assert_verifies(recording, Path(sealed["manifest"]), key)
    units = _access_units(camera_capture.rtp(AUDIO, camera.sent[0]))
    payloads, audio_times, _ = _recorded(recording)
    assert len(units) > 13 * 46 and payloads == [payload for _, payload in units]  # all of it, once, in order
    steps = {round((b - a) * 48000) for a, b in zip(audio_times, audio_times[1:], strict=False)}
    assert steps == {AAC_FRAME}  # continuous across the report
    _assert_every_frame_names_its_segment(frames, [recording])
