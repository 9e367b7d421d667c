"""Live sources under the pipeline's evidence task: each connection is recorded while it is analysed, from the
same connection, and sealed segment by segment; detections name the segment covering their frame.

The cameras are local: a TCP socket serving an MPEG-TS clip (the UK plate clip, stream-copied; or a generated
clip), and the RTSP test camera (tests/rtsp_server.py). Every recording is checked with the real verifier,
and every frame's segment against an independent mapping made from the recording file alone."""

from __future__ import annotations

import random
import socket
import subprocess
import threading
from bisect import bisect_left
from pathlib import Path
from typing import Any

import pytest

from kuzet.evidence import generate_keypair, load_manifest, verify
from kuzet.evidence.records import segment_file
from kuzet.pipeline import FrameItem, Pipeline
from kuzet.video import VideoReader
from pipeline_helpers import serve_tcp_camera
from rtsp_server import RtspCamera, capture_h264_rtp


@pytest.fixture(scope="module")
def generated_ts() -> bytes:
    """4 s of testsrc2, H.264 with a key frame every 10 frames (25 fps), as MPEG-TS."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=4",
         "-c:v", "libx264", "-g", "10", "-bf", "2", "-f", "mpegts", "-"],
        capture_output=True, check=True, timeout=60).stdout  # fmt: skip


@pytest.fixture(scope="module")
def plate_ts(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The UK plate clip's video, stream-copied to MPEG-TS (what a camera would send)."""
    out = tmp_path_factory.mktemp("plate") / "uk.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(data_dir / "plates/video/license_plate_uk.mp4"), "-an",
                    "-c", "copy", "-f", "mpegts", str(out)], check=True, timeout=60)
    return out.read_bytes()


class FrameSegments:
    """on_frame: what the evidence task answered for every analysed frame, at the time it was analysed."""

    def __init__(self) -> None:
        self.pipeline: Pipeline | None = None
        self.frames: list[tuple[int, float, dict[str, Any] | None]] = []

    def __call__(self, item: FrameItem, detections: list[dict[str, Any]]) -> None:
        assert self.pipeline is not None and self.pipeline.evidence is not None
        self.frames.append((item.index, item.pts, self.pipeline.evidence.lookup(item.source, item.pts, item.index)))


def _run(url: str, out: Path, key: Any, tasks: tuple[str, ...] = ("evidence",), **options: Any):
    recorder = FrameSegments()
    pipeline = Pipeline(tasks, evidence_dir=out, signing_key=key, device="cpu", read_timeout=5, live_buffer="block",
                        on_frame=recorder, **options)
    recorder.pipeline = pipeline
    events = list(pipeline.run([url]))
    return pipeline, events, recorder


def _independent_segments(recording: Path, target_duration_s: float) -> list[int]:
    """Per decoded frame of the recording file, the segment holding it: the segmenter's records of the file
    (recording time base) and the file's own decoded frame timestamps, nothing from the live run."""
    records = segment_file(str(recording), target_duration_s=target_duration_s).records
    ends = [r.end_pts for r in records]
    with VideoReader(recording, device="cpu", layout="yuv420p", errors="skip") as reader:  # as the pipeline
        return [bisect_left(ends, frame.pts_raw) for frame in reader]


def _video_pes_start_after(ts: bytes, offset: int) -> int:
    """The offset of the first TS packet after `offset` that starts a video PES (PID 0x100, FFmpeg's first
    elementary stream): a camera dropping there leaves no half packet behind."""
    for at in range(offset // 188 * 188, len(ts), 188):
        if ts[at + 1] & 0x40 and ((ts[at + 1] & 0x1F) << 8 | ts[at + 2]) == 0x100:
            return at
    raise AssertionError("no video PES start")


def _assert_verifies(recording: Path, manifest: Path, key: Any) -> None:
    report = verify(recording, manifest=manifest, public_keys=[key.public_key])
    assert report.status == "ok", report


@pytest.mark.timeout(180)
def test_plate_alerts_on_a_live_camera_name_the_sealed_segment_of_their_frame(
        plate_ts: bytes, model_dir: Path, tmp_path: Path):
    key = generate_keypair()
    url, camera = serve_tcp_camera([plate_ts])
    pipeline, events, frames = _run(url, tmp_path, key, ("plates", "evidence"), model_dir=model_dir,
                                    hotlist=["LS 15 EBC"], plate_formats=("uk",), every_n=3, max_batch=8,
                                    reconnect=0)
    camera.join(10)
    sealed = [e for e in events if e.kind == "evidence"]
    assert len(sealed) == 1 and not [e for e in events if e.kind in ("evidence_error", "source_error")]
    recording, manifest_path = Path(sealed[0].data["recording"]), Path(sealed[0].data["manifest"])
    assert recording.name.endswith(".0.ts") and manifest_path.name.endswith(".0.manifest.json")

    # the recording verifies with the real verifier, and through the command line
    _assert_verifies(recording, manifest_path, key)
    pub = tmp_path / "pub.pem"
    pub.write_text(key.public_key.pem)
    cli = subprocess.run(["python3", "-m", "kuzet", "verify", str(recording), "--manifest", str(manifest_path),
                          "--key", str(pub)], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stdout + cli.stderr

    manifest = load_manifest(manifest_path)
    leaves = [leaf.hex() for leaf in manifest.leaf_hashes()]
    assert sealed[0].data["root"] == manifest.tree_head.root_hash.hex() and len(leaves) == 2  # 2 GOPs
    closed = {e.data["segment"]: e for e in events if e.kind == "evidence_segment"}
    assert sorted(closed) == [0, 1] and [closed[i].data["leaf_hash"] for i in (0, 1)] == leaves

    # every analysed frame named the segment that the recording file says holds it
    truth = _independent_segments(recording, 2.0)
    assert len(truth) == 140 and len(frames.frames) == 47  # every 3rd of 140 frames
    for index, pts, seg in frames.frames:
        assert seg is not None and seg["segment"] == truth[index], (index, seg)
        window = closed[seg["segment"]].data
        assert window["start"] - 1e-9 <= pts <= window["end"] + 1e-9
        if not seg.get("pending"):
            assert seg["leaf_hash"] == leaves[seg["segment"]]

    # the plate read on a frame carries the segment of that frame, with the hash the manifest signed
    reads = [e for e in events if e.kind == "plate_read" and e.data["text"] == "LS15EBC"]
    assert reads, "the UK plate must be read"
    for e in reads:
        assert e.segment is not None and e.segment["segment"] == truth[e.frame_index]
        assert e.segment["manifest"] == str(manifest_path)
        if not e.segment.get("pending"):
            assert e.segment["leaf_hash"] == leaves[e.segment["segment"]]
    track = [e for e in events if e.kind == "plate" and e.data["text"] == "LS15EBC"]
    assert track and track[0].segment is not None  # a track is dated by pts only: mapped through the tags
    first_index = next(i for i, pts, _ in frames.frames if abs(pts - track[0].pts) < 1e-9)
    assert track[0].segment["segment"] == truth[first_index]


@pytest.mark.timeout(60)
def test_tampering_one_byte_of_a_live_recording_fails_verification_at_that_segment(
        generated_ts: bytes, tmp_path: Path):
    key = generate_keypair()
    url, camera = serve_tcp_camera([generated_ts])
    _, events, _ = _run(url, tmp_path, key, reconnect=0)
    camera.join(10)
    sealed = [e for e in events if e.kind == "evidence"][0].data
    recording, manifest_path = Path(sealed["recording"]), Path(sealed["manifest"])
    _assert_verifies(recording, manifest_path, key)
    manifest = load_manifest(manifest_path)
    assert len(manifest.records) == 2  # 4 s in segments of >= 2 s at key frames every 0.4 s

    # flip one payload byte of a video packet in the middle of segment 1
    import av

    target = manifest.records[1]
    with av.open(str(recording)) as container:
        video = container.streams.video[0]
        pid = video.id
        packets = [(p.pts, p.pos, p.size) for p in container.demux(video) if p.pts is not None and p.size > 600]
    data = bytearray(recording.read_bytes())
    for pts, pos, _size in packets:
        if not (target.start_pts < pts <= target.end_pts):
            continue
        at = pos + 188  # the packet's second TS packet: payload only, if it belongs to the video PID
        if data[at] == 0x47 and ((data[at + 1] & 0x1F) << 8 | data[at + 2]) == pid and not data[at + 3] & 0x20:
            data[at + 100] ^= 0xFF
            break
    else:
        pytest.fail("no video TS packet found to flip")
    recording.write_bytes(bytes(data))
    report = verify(recording, manifest=manifest_path, public_keys=[key.public_key])
    assert report.status == "tampered" and report.modified == (1,) and not report.missing


@pytest.mark.timeout(90)
def test_a_dropped_connection_seals_what_it_received_and_a_reconnection_starts_a_new_recording(
        generated_ts: bytes, tmp_path: Path):
    key = generate_keypair()
    cut = _video_pes_start_after(generated_ts, len(generated_ts) * 3 // 5)  # the camera drops mid-segment
    url, camera = serve_tcp_camera([generated_ts[:cut], generated_ts])
    pipeline, events, frames = _run(url, tmp_path, key, reconnect=1)
    camera.join(10)
    sealed = sorted((e.data for e in events if e.kind == "evidence"), key=lambda d: d["connection"])
    assert [d["connection"] for d in sealed] == [0, 1]
    assert not [e for e in events if e.kind == "evidence_error"]
    for d in sealed:
        _assert_verifies(Path(d["recording"]), Path(d["manifest"]), key)
    first, second = (load_manifest(d["manifest"]).records for d in sealed)
    assert len(second) == 2 and len(first) == 2  # the drop's segment in progress was sealed, not lost
    assert first[1].packet_count < second[1].packet_count and first[0].same_media(second[0])

    # frames of both connections name their own recording's segment (frame indices count on)
    stats = pipeline.metrics.source(url.rsplit("/", 1)[-1])
    assert stats.reconnects == 1
    truth = _independent_segments(Path(sealed[0]["recording"]), 2.0)
    truth += _independent_segments(Path(sealed[1]["recording"]), 2.0)
    assert len(frames.frames) == stats.decoded == len(truth)
    connections = [seg["connection"] for _, _, seg in frames.frames if seg is not None]
    assert len(connections) == len(truth) and connections == sorted(connections) and set(connections) == {0, 1}
    assert [seg["segment"] for _, _, seg in frames.frames if seg is not None] == truth

    # by time alone (no frame index): a time both connections reached is ambiguous and names nothing
    assert pipeline.evidence is not None
    source = url.rsplit("/", 1)[-1]
    last_of_first = max(pts for _, pts, seg in frames.frames if seg is not None and seg["connection"] == 0)
    assert pipeline.evidence.lookup(source, last_of_first - 0.5) is None
    late = pipeline.evidence.lookup(source, last_of_first + 1.0)
    assert late is not None and late["connection"] == 1 and late["segment"] == 1


@pytest.mark.timeout(60)
def test_an_unwritable_evidence_directory_is_reported_and_the_analysis_goes_on(generated_ts: bytes,
                                                                               tmp_path: Path):
    key = generate_keypair()
    out = tmp_path / "evidence"
    url, camera = serve_tcp_camera([generated_ts])
    recorder = FrameSegments()
    pipeline = Pipeline(("evidence",), evidence_dir=out, signing_key=key, device="cpu", read_timeout=5,
                        live_buffer="block", reconnect=0, on_frame=recorder)
    recorder.pipeline = pipeline
    out.rmdir()
    out.write_text("the evidence disk went away")  # neither a directory nor writable as one
    events = list(pipeline.run([url]))
    camera.join(10)
    errors = [e for e in events if e.kind == "evidence_error"]
    assert len(errors) == 1 and str(out) in errors[0].data["message"]
    assert "Not a directory" in errors[0].data["message"]
    end = [e for e in events if e.kind == "source_end"][0].data
    assert end["state"] == "finished" and end["decoded"] == end["analysed"] == 100
    assert all(seg is None for _, _, seg in recorder.frames) and len(recorder.frames) == 100
    assert not [e for e in events if e.kind in ("evidence", "evidence_segment")]


@pytest.mark.timeout(60)
def test_a_second_run_into_the_same_directory_records_beside_the_first(generated_ts: bytes, tmp_path: Path):
    key = generate_keypair()
    url, camera = serve_tcp_camera([generated_ts, generated_ts])
    runs = []
    for _ in range(2):  # the same camera, so the same source name
        _, events, _ = _run(url, tmp_path, key, reconnect=0)
        runs.append([e.data for e in events if e.kind == "evidence"])
    camera.join(10)
    assert [Path(r[0]["recording"]).name[-5:] for r in runs] == [".0.ts", ".1.ts"]
    assert all(r[0]["connection"] == 0 for r in runs)  # each run's first connection
    for r in runs:
        _assert_verifies(Path(r[0]["recording"]), Path(r[0]["manifest"]), key)


@pytest.mark.timeout(60)
def test_an_rtsp_camera_is_recorded_and_verifies(tmp_path: Path):
    capture = capture_h264_rtp(tmp_path, seconds=3, size="160x120", rate=25)
    key = generate_keypair()
    with RtspCamera(capture) as camera:
        _, events, frames = _run(camera.url, tmp_path, key, reconnect=0)
    sealed = [e.data for e in events if e.kind == "evidence"]
    assert len(sealed) == 1 and not [e for e in events if e.kind == "evidence_error"]
    _assert_verifies(Path(sealed[0]["recording"]), Path(sealed[0]["manifest"]), key)
    truth = _independent_segments(Path(sealed[0]["recording"]), 2.0)
    assert len(truth) == len(frames.frames) == 75
    assert truth[0] == 0 and truth[-1] == 1  # -g 25: key frames every second, segments of 2 s
    # RTSP's first packets come untimed: the recorder dates them once the clock is known, so a frame decoded
    # before that may name no segment (never a wrong one)
    named = [(i, seg["segment"]) for i, (_, _, seg) in enumerate(frames.frames) if seg is not None]
    assert len(named) >= 70 and all(truth[i] == s for i, s in named)



_FULL_DISK_RUN = """
import json, resource, signal, sys
from kuzet.evidence import PrivateKey
from kuzet.pipeline import Pipeline
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[3]), int(sys.argv[3])))
key = PrivateKey.from_pem(sys.stdin.read())
pipeline = Pipeline(("evidence",), evidence_dir=sys.argv[2], signing_key=key, device="cpu", read_timeout=5,
                    live_buffer="block", reconnect=0)
for event in pipeline.run([sys.argv[1]]):
    print(json.dumps(event.to_dict()), flush=True)
"""


@pytest.mark.timeout(90)
def test_a_full_disk_stops_the_recording_which_still_verifies_and_the_analysis_goes_on(generated_ts: bytes,
                                                                                        tmp_path: Path):
    import json
    import os
    import sys

    key = generate_keypair()
    limit = len(generated_ts) // 2  # the "disk" fills up half way through the recording
    url, camera = serve_tcp_camera([generated_ts])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    run = subprocess.run([sys.executable, "-c", _FULL_DISK_RUN, url, str(tmp_path), str(limit)], input=key.pem,
                         capture_output=True, text=True, timeout=80, env=env)
    camera.join(10)
    assert run.returncode == 0, run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    errors = [e for e in events if e["kind"] == "evidence_error"]
    assert len(errors) == 1 and "File too large" in errors[0]["message"] and ".0.ts" in errors[0]["message"]
    assert "the recording ends with the last packet written whole" in errors[0]["message"]
    end = [e for e in events if e["kind"] == "source_end"][0]
    assert end["state"] == "finished" and end["decoded"] == end["analysed"] == 100
    sealed = [e for e in events if e["kind"] == "evidence"][0]
    recording = Path(sealed["recording"])
    # cut back to its last whole packet (whole 188-byte MPEG-TS packets), so nothing half-written is hashed
    assert recording.stat().st_size < limit and recording.stat().st_size % 188 == 0
    assert sealed["tree_size"] >= 1
    _assert_verifies(recording, Path(sealed["manifest"]), key)


@pytest.mark.timeout(60)
def test_a_codec_mpeg_ts_cannot_carry_is_reported_and_analysed_unrecorded(tmp_path: Path):
    mjpeg = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1",
         "-c:v", "mjpeg", "-f", "matroska", "-"], capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    url, camera = serve_tcp_camera([mjpeg])
    _, events, frames = _run(url, tmp_path, generate_keypair(), reconnect=0)
    camera.join(10)
    errors = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert len(errors) == 1 and "MPEG-TS cannot carry mjpeg video" in errors[0]
    end = [e for e in events if e.kind == "source_end"][0].data
    assert end["state"] == "finished" and end["analysed"] == 25
    assert len(frames.frames) == 25 and all(seg is None for _, _, seg in frames.frames)
    assert not list(tmp_path.glob("*.ts")) and not list(tmp_path.glob("*.manifest.json"))


@pytest.mark.timeout(60)
def test_a_failed_checkpoint_ends_the_signed_log_there_and_later_frames_name_no_segment(
        generated_ts: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from kuzet.evidence import EvidenceLog

    append = EvidenceLog.append

    def failing_after_one(self: EvidenceLog, record: Any, metadata: Any = None) -> Any:
        if self.tree_size >= 1:
            raise OSError(28, "No space left on device")  # the manifest's disk is full
        return append(self, record, metadata)

    monkeypatch.setattr(EvidenceLog, "append", failing_after_one)
    url, camera = serve_tcp_camera([generated_ts])
    pipeline, events, frames = _run(url, tmp_path, generate_keypair(), reconnect=0)
    camera.join(10)
    errors = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert len(errors) == 1 and "cannot checkpoint segment 1" in errors[0] and "ends at 1 segments" in errors[0]
    sealed = [e.data for e in events if e.kind == "evidence"][0]
    assert sealed["tree_size"] == 1 and len(load_manifest(sealed["manifest"]).records) == 1
    # frames of segment 0 name it; after the log ended, frames name nothing (never a shifted segment)
    assert pipeline.evidence is not None
    source = url.rsplit("/", 1)[-1]
    named = [pipeline.evidence.lookup(source, pts, index) for index, pts, _ in frames.frames]
    assert named[0] is not None and named[0]["segment"] == 0 and "leaf_hash" in named[0] and named[-1] is None


@pytest.mark.timeout(60)
def test_stopping_the_pipeline_seals_the_segment_in_progress(generated_ts: bytes, tmp_path: Path):
    import time

    sock = socket.create_server(("127.0.0.1", 0))
    release = threading.Event()

    def stalled_camera() -> None:  # sends 60% of the clip, then keeps the connection open, silent
        with sock:
            conn, _ = sock.accept()
            with conn:
                conn.sendall(generated_ts[: _video_pes_start_after(generated_ts, len(generated_ts) * 3 // 5)])
                release.wait(30)

    threading.Thread(target=stalled_camera, daemon=True).start()
    url = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    key = generate_keypair()
    pipeline = Pipeline(("evidence",), evidence_dir=tmp_path, signing_key=key, device="cpu", read_timeout=20,
                        live_buffer="block", reconnect=0)
    pipeline.start([url])
    source = url.rsplit("/", 1)[-1]
    deadline, seen = time.monotonic() + 20, -1
    while time.monotonic() < deadline:  # until everything sent is decoded: the camera is stalled
        time.sleep(0.5)
        decoded = pipeline.metrics.source(source).decoded
        if decoded == seen:
            break
        seen = decoded
    assert 52 < seen < 100  # past the first segment's 2 s, mid-way through the second
    pipeline.stop()
    pipeline.join()
    release.set()
    manifest = next(tmp_path.glob("*.0.manifest.json"))
    recording = next(tmp_path.glob("*.0.ts"))
    assert len(load_manifest(manifest).records) == 2  # the closed segment and the one in progress at the stop
    _assert_verifies(recording, manifest, key)


def _mutated(ts: bytes, seed: int) -> bytes:
    """A camera stream damaged in transit: flipped bits, a lost run of bytes (not packet-aligned), or a run
    of TS packets sent twice."""
    rng = random.Random(seed)
    data = bytearray(ts)
    kind = seed % 3
    if kind == 0:
        for _ in range(30):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:
        start = rng.randrange(len(data) // 4, len(data) * 3 // 4)
        del data[start : start + rng.randrange(100, 188 * 40)]
    else:
        start = rng.randrange(len(data) // 4, len(data) * 3 // 4) // 188 * 188
        data[start:start] = data[start - 188 * rng.randrange(1, 30) : start]
    return bytes(data)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("seed", range(6))
def test_damaged_camera_streams_never_crash_and_what_is_recorded_verifies(generated_ts: bytes, tmp_path: Path,
                                                                          seed: int):
    key = generate_keypair()
    url, camera = serve_tcp_camera([_mutated(generated_ts, seed)])
    _, events, frames = _run(url, tmp_path, key, reconnect=0)
    camera.join(10)
    (end,) = [e for e in events if e.kind == "source_end"]
    assert end.data["decoded"] > 0 and end.data["state"] in ("finished", "failed")
    (sealed,) = [e for e in events if e.kind == "evidence"]
    # whatever was received and recorded is sealed consistently, and damage never ends the recording
    _assert_verifies(Path(sealed.data["recording"]), Path(sealed.data["manifest"]), key)
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert not [m for m in problems if "left out" not in m], problems
    if seed % 3 == 2:  # packets sent twice: the repeats are left out of the recording, and said so
        assert problems and "decode timestamp does not increase" in problems[0]
    # Every frame names its segment, except where a damaged resend gave a second packet (other bytes, left
    # out) with a recorded one's timestamp: a frame of that timestamp names none (never a wrong one).
    unnamed = [pts for _, pts, segment in frames.frames if segment is None]
    assert not unnamed or (problems and len(unnamed) <= 4), unnamed


@pytest.mark.timeout(120)
def test_frames_after_the_camera_clock_went_back_name_no_segment(generated_ts: bytes, tmp_path: Path):
    """An encoder restarted on the same connection: new pictures (colour bars) repeat the timestamps of recorded
    ones (testsrc2). They are left out of the recording (MPEG-TS needs increasing timestamps) and, said so,
    must not be bound to the segments of the older pictures whose timestamps they share."""
    bars = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "smptebars=size=160x120:rate=25:duration=4",
         "-c:v", "libx264", "-g", "10", "-bf", "2", "-f", "mpegts", "-"],
        capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    key = generate_keypair()
    url, camera = serve_tcp_camera([generated_ts + bars])
    _, events, frames = _run(url, tmp_path, key, reconnect=0)
    camera.join(10)
    segments = [segment for _, _, segment in frames.frames]
    assert len(segments) == 200
    assert all(s is not None for s in segments[:100]) and all(s is None for s in segments[100:])
    problems = [e.data["message"] for e in events if e.kind == "evidence_error"]
    assert problems and "the camera's clock went back" in problems[0]
    (sealed,) = [e for e in events if e.kind == "evidence"]
    _assert_verifies(Path(sealed.data["recording"]), Path(sealed.data["manifest"]), key)


_FAILING_SYNC = r"""
#include <errno.h>
static int calls;
int fdatasync(int fd) { (void)fd; if (++calls >= 2) { errno = EIO; return -1; } return 0; }
"""

_RECORD_WITH_FAILING_SYNC = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from pipeline_helpers import serve_tcp_camera
from kuzet.evidence import generate_keypair
from kuzet.pipeline import Pipeline
url, camera = serve_tcp_camera([Path(sys.argv[1]).read_bytes()])
seen = []
def note(item, found):
    seen.append(pipeline.evidence.lookup(item.source, item.pts, item.index))
pipeline = Pipeline(("evidence",), evidence_dir=sys.argv[2], signing_key=generate_keypair(), device="cpu",
                    read_timeout=5, live_buffer="block", reconnect=0, on_frame=note)
events = list(pipeline.run([url]))
print(json.dumps({"events": [[e.kind, e.data] for e in events],
                  "segments": [[s["segment"], "leaf_hash" in s] if s else None for s in seen]}))
"""


@pytest.mark.timeout(120)
def test_a_segment_the_disk_does_not_confirm_is_never_signed(generated_ts: bytes, tmp_path: Path):
    """fdatasync fails (EIO) for the second segment: it is never signed (its frames, named while it was open,
    never get a leaf hash), the failure is reported, and the process goes on (the first segment stays signed)."""
    import json
    import os
    import sys

    lib = tmp_path / "failing_sync.so"
    (tmp_path / "failing_sync.c").write_text(_FAILING_SYNC)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(lib), str(tmp_path / "failing_sync.c")], check=True)
    (tmp_path / "camera.ts").write_bytes(generated_ts)
    env = dict(os.environ, LD_PRELOAD=f"{os.environ.get('LD_PRELOAD', '')} {lib}".strip())
    tests_dir = str(Path(__file__).parent)
    run = subprocess.run([sys.executable, "-c", _RECORD_WITH_FAILING_SYNC, str(tmp_path / "camera.ts"),
                          str(tmp_path / "ev"), tests_dir], env=env, capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    errors = [data["message"] for kind, data in result["events"] if kind == "evidence_error"]
    assert any("did not confirm writing segment 1" in m for m in errors), errors
    (sealed,) = [data for kind, data in result["events"] if kind == "evidence"]
    assert sealed["tree_size"] == 1 and len(load_manifest(sealed["manifest"]).records) == 1
    assert [data["segment"] for kind, data in result["events"] if kind == "evidence_segment"] == [0]
    named = [tuple(s) for s in result["segments"] if s is not None]
    assert named[0][0] == 0 and {n for n in named if n[0] != 0} <= {(1, False)}  # pending, never sealed


_EXIT_WITHOUT_CLOSING = r"""
import socket, sys, threading, time
from pathlib import Path
from kuzet.evidence import load_private_key
from kuzet.pipeline.live_evidence import LiveRecording, RecordingReader
data = Path(sys.argv[1]).read_bytes()
sock = socket.create_server(("127.0.0.1", 0))
def serve():  # a camera sending in real time, that never hangs up
    conn, _ = sock.accept()
    for i in range(0, len(data), 4700):
        conn.sendall(data[i:i + 4700])
        time.sleep(0.02)
    time.sleep(60)
threading.Thread(target=serve, daemon=True).start()
recording = LiveRecording("cam", Path(sys.argv[2]) / "cam", load_private_key(sys.argv[3]), 0.5)
reader = RecordingReader(f"tcp://127.0.0.1:{sock.getsockname()[1]}", recording, device="cpu", timeout=20,
                         threads=1, errors="skip", buffer="block", reconnect=0)
frames = iter(reader)
for _ in range(60):
    next(frames)
sys.exit(0)  # a service shutting down without closing its reader
"""


@pytest.mark.timeout(120)
def test_a_process_exiting_with_a_recording_open_signs_all_it_recorded(generated_ts: bytes, tmp_path: Path):
    import os
    import sys

    key = generate_keypair()
    (tmp_path / "signing.key").write_text(key.pem)
    (tmp_path / "camera.ts").write_bytes(generated_ts)
    (tmp_path / "ev").mkdir()
    run = subprocess.run([sys.executable, "-c", _EXIT_WITHOUT_CLOSING, str(tmp_path / "camera.ts"),
                          str(tmp_path / "ev"), str(tmp_path / "signing.key")],
                         env=dict(os.environ), capture_output=True, text=True, timeout=100)
    assert run.returncode == 0, run.stderr
    recording, manifest = tmp_path / "ev/cam.0.ts", tmp_path / "ev/cam.0.manifest.json"
    assert len(load_manifest(manifest).records) >= 4  # 60 frames at 25 fps: 2.4 s in 0.5 s segments
    _assert_verifies(recording, manifest, key)  # every recorded byte is in a signed segment
