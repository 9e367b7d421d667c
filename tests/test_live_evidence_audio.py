"""Live recordings keep the camera's audio: every audio stream MPEG-TS carries is stream-copied next to the
video (same codec, same packets, same bytes), hashed into the segments and verified like the video; an
audio codec MPEG-TS cannot carry is left out of the recording and reported, never silently.

The cameras are local TCP sockets serving clips made here with FFmpeg's test sources (H.264 video, audio
from a seeded noise source so that no two audio packets are alike). Each recording is checked with the real
verifier, the audio against an independent demux of the source (PyAV), and every frame's segment against a
mapping made from the recording file alone."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kuzet.evidence import generate_keypair, load_manifest, verify
from pipeline_helpers import serve_tcp_camera
from test_live_evidence import _assert_verifies, _independent_segments, _run

AUDIO_PID = 0x101  # FFmpeg's MPEG-TS muxer: the second elementary stream


def _clip(audio_codec: list[str], container: str = "mpegts", *, seconds: int = 4,
          mux_options: tuple[str, ...] = ()) -> bytes:
    """testsrc2 (H.264, a key frame every 10 frames at 25 fps) and pink noise encoded with `audio_codec`."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:r=48000:a=0.3:seed=7",
         "-c:v", "libx264", "-g", "10", "-bf", "2", *audio_codec, "-ac", "2", *mux_options, "-f", container, "-"],
        capture_output=True, check=True, timeout=60).stdout  # fmt: skip


@pytest.fixture(scope="module")
def aac_ts() -> bytes:
    """A camera's MPEG-TS with H.264 and AAC (FFmpeg gathers several AAC frames into each PES)."""
    return _clip(["-c:a", "aac", "-b:a", "64k"])


def _audio(path: Path) -> tuple[str, int, str, list[tuple[int, int]]]:
    """The first audio stream's codec, packet count, SHA-256 of its packets' bytes in order, and per packet
    (pts in seconds * 90000 from the first video packet, position in the file), demuxed by PyAV."""
    import av

    with av.open(str(path)) as container:  # PyAV packets must not outlive their container
        audio = container.streams.audio[0]
        codec = audio.codec_context.codec.canonical_name
        digest = hashlib.sha256()
        packets = [(p.stream.type, p.pts, p.pos, bytes(p)) for p in container.demux(audio, container.streams.video[0])
                   if p.size]  # fmt: skip
        tick = audio.time_base  # both streams: 1/90000 in MPEG-TS
    video_start = min(pts for kind, pts, _, _ in packets if kind == "video" and pts is not None)
    where = []
    for kind, pts, pos, payload in packets:
        if kind == "audio":
            digest.update(payload)
            where.append((round(float((pts - video_start) * tick) * 90000), pos))
    return codec, len(where), digest.hexdigest(), where


def _record(payload: bytes, tmp_path: Path, key: Any) -> tuple[Any, list[Any], Any, Path, Path]:
    url, camera = serve_tcp_camera([payload])
    pipeline, events, frames = _run(url, tmp_path, key, reconnect=0)
    camera.join(10)
    (sealed,) = [e.data for e in events if e.kind == "evidence"]
    return pipeline, events, frames, Path(sealed["recording"]), Path(sealed["manifest"])


@pytest.mark.timeout(90)
def test_a_camera_with_aac_audio_is_recorded_with_every_audio_packet_and_verifies(aac_ts: bytes, tmp_path: Path):
    key = generate_keypair()
    source = tmp_path / "camera.ts"
    source.write_bytes(aac_ts)
    _, events, frames, recording, manifest = _record(aac_ts, tmp_path, key)
    # nothing left out, every segment's video matched the frames that named it (else an evidence_error)
    assert not [e.data for e in events if e.kind in ("evidence_error", "source_error")]
    _assert_verifies(recording, manifest, key)

    # the same audio: codec, every packet, the very bytes, and the same timing relative to the video
    codec, count, digest, timing = _audio(source)
    assert (codec, count) == ("aac", 189)  # 4 s of 48 kHz AAC: 188 packets of 1024 samples, and the tail
    recorded = _audio(recording)
    assert recorded[:3] == (codec, count, digest)
    moved = [(a, b) for a, b in zip(timing, recorded[3], strict=True) if abs(a[0] - b[0]) > 2]
    assert not moved, "audio moved against the video"

    # the segments hash the audio too: every packet of the recording is in exactly one segment
    import av

    records = load_manifest(manifest).records
    with av.open(str(recording)) as container:
        video_packets = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    assert video_packets == 100 and sum(r.packet_count for r in records) == video_packets + count

    # every frame names the segment that the recording file says holds it
    truth = _independent_segments(recording, 2.0)
    assert len(truth) == len(frames.frames) == 100 and truth[-1] == 1
    assert [seg["segment"] if seg else None for _, _, seg in frames.frames] == truth


@pytest.mark.timeout(90)
def test_flipping_one_byte_of_an_audio_packet_fails_verification_at_its_segment(aac_ts: bytes, tmp_path: Path):
    key = generate_keypair()
    _, _, _, recording, manifest_path = _record(aac_ts, tmp_path, key)
    _assert_verifies(recording, manifest_path, key)
    records = load_manifest(manifest_path).records
    assert len(records) == 2

    # an audio packet well inside segment 1 (0.5 s from its bounds, whatever the interleaving), found by its
    # own bytes from where its PES starts, and one byte of its payload (past the ADTS header) flipped
    import av

    target = records[1]
    with av.open(str(recording)) as container:
        audio = [(p.pts, p.pos, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]
    data = bytearray(recording.read_bytes())
    for pts, pos, payload in audio:
        # both streams are in 1/90000 in the recording; records are dated by video pts in it
        if not (target.start_pts + 45000 <= pts <= target.end_pts - 45000):
            continue
        at = data.find(payload[:40], pos)
        if 0 <= at < pos + 188:  # within the PES's first TS packet
            assert ((data[pos + 1] & 0x1F) << 8 | data[pos + 2]) == AUDIO_PID
            data[at + 20] ^= 0xFF
            break
    else:
        pytest.fail("no audio packet found to flip")
    recording.write_bytes(bytes(data))
    report = verify(recording, manifest=manifest_path, public_keys=[key.public_key])
    assert report.status == "tampered" and report.modified == (1,) and not report.missing and not report.extra


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "encoder", "codec"), [
    ("mp2", ["-c:a", "mp2"], "mp2"),
    ("mp3", ["-c:a", "libmp3lame"], "mp3"),
    ("ac3", ["-c:a", "ac3"], "ac3"),
    ("eac3", ["-c:a", "eac3"], "eac3"),
    ("opus", ["-c:a", "libopus"], "opus"),
    ("dts", ["-c:a", "dca", "-strict", "-2"], "dts"),
    ("latm", ["-c:a", "aac", "-mpegts_flags", "latm"], "aac_latm"),
])  # fmt: skip
def test_every_audio_codec_mpeg_ts_carries_is_recorded_packet_for_packet(name: str, encoder: list[str], codec: str,
                                                                         tmp_path: Path):
    payload = _clip(encoder, seconds=2)
    source = tmp_path / f"camera.{name}.ts"
    source.write_bytes(payload)
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(payload, tmp_path, key)
    assert not [e.data for e in events if e.kind in ("evidence_error", "source_error")]
    _assert_verifies(recording, manifest, key)
    expected = _audio(source)
    assert expected[0] == codec and expected[1] > 40
    assert _audio(recording)[:3] == expected[:3]
    assert len(frames.frames) == 50 and all(seg is not None for _, _, seg in frames.frames)


@pytest.mark.timeout(90)
def test_an_audio_codec_mpeg_ts_cannot_carry_is_left_out_and_reported(tmp_path: Path):
    pcm = _clip(["-c:a", "pcm_s16le"], "matroska")  # a streamable container that carries PCM
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(pcm, tmp_path, key)
    (error,) = [e.data["message"] for e in events if e.kind == "evidence_error"]  # once for the connection
    assert "audio stream 1 (pcm_s16le) left out: MPEG-TS cannot carry pcm_s16le audio" in error
    assert str(recording) in error
    # the video is recorded all the same, and verifies; the analysis saw every frame
    _assert_verifies(recording, manifest, key)
    import av

    with av.open(str(recording)) as container:
        assert [s.type for s in container.streams] == ["video"]
    end = [e.data for e in events if e.kind == "source_end"][0]
    assert end["state"] == "finished" and end["analysed"] == 100
    truth = _independent_segments(recording, 2.0)
    assert [seg["segment"] if seg else None for _, _, seg in frames.frames] == truth


def _repeat_audio_pes(ts: bytes, nth: int) -> bytes:
    """The camera sends the TS packets of its `nth` audio PES twice (a retransmission): right after the
    originals, before its next audio PES."""
    packets = [ts[i : i + 188] for i in range(0, len(ts), 188)]

    def pid(p: bytes) -> int:
        return (p[1] & 0x1F) << 8 | p[2]

    starts = [i for i, p in enumerate(packets) if pid(p) == AUDIO_PID and p[1] & 0x40]
    begin, end = starts[nth], starts[nth + 1]
    repeated = [p for p in packets[begin:end] if pid(p) == AUDIO_PID]
    last = max(i for i in range(begin, end) if pid(packets[i]) == AUDIO_PID)
    return b"".join(packets[: last + 1] + repeated + packets[last + 1 :])


@pytest.mark.timeout(90)
def test_a_repeated_audio_packet_is_left_out_and_reported_and_the_recording_goes_on(tmp_path: Path):
    # one AAC frame per PES, so each repeated frame carries its own (repeated) timestamp
    clean = _clip(["-c:a", "aac", "-b:a", "64k"], mux_options=("-max_delay", "0", "-pes_payload_size", "0"))
    source = tmp_path / "camera.ts"
    source.write_bytes(clean)
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(_repeat_audio_pes(clean, 90), tmp_path, key)
    (error,) = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert "a packet of its audio stream 1 (aac) whose decode timestamp does not increase" in error
    assert "left out of the recording" in error
    _assert_verifies(recording, manifest, key)
    # the repeat is gone: the recording holds the camera's audio once, packet for packet
    assert _audio(recording)[:3] == _audio(source)[:3]
    assert len(frames.frames) == 100 and all(seg is not None for _, _, seg in frames.frames)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(6))
def test_damaged_camera_streams_with_audio_never_crash_and_what_is_recorded_verifies(aac_ts: bytes, tmp_path: Path,
                                                                                     seed: int):
    from test_live_evidence import _mutated

    key = generate_keypair()
    _, events, frames, recording, manifest = _record(_mutated(aac_ts, seed), tmp_path, key)
    (end,) = [e for e in events if e.kind == "source_end"]
    assert end.data["decoded"] > 0 and end.data["state"] in ("finished", "failed")
    # whatever was received is recorded, audio included, and sealed consistently; damage never ends it
    _assert_verifies(recording, manifest, key)
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert not [m for m in problems if "left out" not in m], problems
    assert _audio(recording)[1] > 150  # of the 189 sent
    # Every frame names its segment, except where a damaged resend gave a second packet (other bytes, left
    # out) with a recorded one's timestamp: a frame of that timestamp names none (never a wrong one).
    unnamed = [pts for _, pts, segment in frames.frames if segment is None]
    assert not unnamed or (problems and len(unnamed) <= 4), unnamed


@pytest.mark.timeout(90)
def test_an_audio_stream_that_appears_after_the_connection_started_is_reported(tmp_path: Path):
    # 7 s of video only (longer than the 5 s the reader probes streams for), then a new program table adds AAC
    video_only = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=7",
         "-c:v", "libx264", "-g", "10", "-bf", "2", "-f", "mpegts", "-"],
        capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    with_audio = _clip(["-c:a", "aac"], seconds=2, mux_options=("-tables_version", "1", "-output_ts_offset", "7.5"))
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(video_only + with_audio, tmp_path, key)
    (error,) = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert "stream 1 left out: it appeared after the connection started" in error
    _assert_verifies(recording, manifest, key)
    import av

    with av.open(str(recording)) as container:
        assert [s.type for s in container.streams] == ["video"]
    assert len(frames.frames) == 225 and all(seg is not None for _, _, seg in frames.frames)


@pytest.mark.timeout(90)
def test_raw_aac_from_a_container_with_extradata_is_framed_as_adts_packet_for_packet(tmp_path: Path):
    # Matroska carries raw AAC (its setup in extradata), as RTSP and MP4-like sources do: MPEG-TS needs ADTS,
    # which the muxer builds from that extradata; the AAC payload itself is recorded unchanged
    mkv = _clip(["-c:a", "aac"], "matroska")
    source = tmp_path / "camera.mkv"
    source.write_bytes(mkv)
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(mkv, tmp_path, key)
    assert not [e.data for e in events if e.kind in ("evidence_error", "source_error")]
    _assert_verifies(recording, manifest, key)
    import av

    def payloads(path: Path) -> list[bytes]:
        with av.open(str(path)) as container:
            return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]

    raw, adts = payloads(source), payloads(recording)
    assert len(raw) == len(adts) == 189
    assert all(a[:2] in (b"\xff\xf1", b"\xff\xf9") and a[7:] == r for r, a in zip(raw, adts, strict=True))
    truth = _independent_segments(recording, 2.0)
    assert [seg["segment"] if seg else None for _, _, seg in frames.frames] == truth


@pytest.mark.timeout(90)
def test_audio_whose_setup_the_muxer_refuses_is_left_out_and_the_video_still_recorded(tmp_path: Path):
    # AAC-LD (audio object type 23): MPEG-TS carries AAC as ADTS, which cannot express it, so FFmpeg's muxer
    # refuses the stream at its start. Made by giving an AAC track AAC-LD extradata (PyAV remux).
    import av

    lc = tmp_path / "lc.mkv"
    lc.write_bytes(_clip(["-c:a", "aac"], "matroska"))
    ld = tmp_path / "ld.mkv"
    with av.open(str(lc)) as src, av.open(str(ld), "w", format="matroska") as out:
        streams = {}
        for stream in src.streams:
            streams[stream.index] = out.add_stream_from_template(stream)
            if stream.type == "audio":
                streams[stream.index].codec_context.extradata = b"\xb9\x90"  # AOT 23, 48 kHz, stereo
        for packet in src.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    key = generate_keypair()
    _, events, frames, recording, manifest = _record(ld.read_bytes(), tmp_path, key)
    (error,) = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert "audio stream 1 (aac) left out: the MPEG-TS muxer refused it" in error
    _assert_verifies(recording, manifest, key)
    with av.open(str(recording)) as container:
        assert [s.type for s in container.streams] == ["video"]
    truth = _independent_segments(recording, 2.0)
    assert len(truth) == 100 and [seg["segment"] if seg else None for _, _, seg in frames.frames] == truth
