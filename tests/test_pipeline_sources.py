"""The multi-source runtime on real files: nothing lost, failures isolated, clean shutdown, bounded queues."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

import kuzet
from kuzet.pipeline import Event, FrameItem, JsonlWriter, Pipeline
from kuzet.pipeline.source_worker import Sampling, _Sampler


class RecordingTask:
    """Records which frames reached the analysis stage, and reports one detection per frame."""

    name = "record"

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = defaultdict(list)
        self.batch_sizes: list[int] = []

    def start_source(self, source: str, url: str) -> None:
        self.seen[source] = []

    def process(self, items: list[FrameItem]) -> list[list[dict]]:
        self.batch_sizes.append(len(items))
        for item in items:
            assert item.image.ndim == 3 and item.image.shape[2] == 3
            self.seen[item.source].append(item.index)
        return [[{"kind": "frame_seen", "shape": list(item.image.shape)}] for item in items]

    def finish_source(self, source: str) -> list[dict]:
        return [{"kind": "source_summary", "frames": len(self.seen[source]), "frame_index": None, "pts": None}]


def pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("kuzet-source-", "kuzet-analysis"))]


def open_reader(url: str) -> kuzet.VideoReader:
    return kuzet.VideoReader(url, device="cpu", timeout=2.0)


def _stalling_server(seconds: int = 2, sent: float = 0.5) -> tuple[str, threading.Thread, threading.Event]:
    """A TCP server that sends the first `sent` part of a `seconds`-long MPEG-TS stream, then stalls with the
    connection open."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    release = threading.Event()
    port = srv.getsockname()[1]
    ts = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", str(seconds),
         "-c:v", "mpeg2video", "-f", "mpegts", "-"], capture_output=True, check=True).stdout

    def serve() -> None:
        srv.settimeout(20)
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.sendall(ts[: int(len(ts) * sent)])
            release.wait(30)
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return f"tcp://127.0.0.1:{port}", t, release


@pytest.mark.timeout(180)
def test_eight_sources_with_a_corrupt_and_a_stalled_one(data_dir: Path, tmp_path: Path):
    # name -> (file, frame count that ffprobe -count_frames gives, per the data set's DATA.md)
    files = {
        "carphone_qcif.mp4": (data_dir / "faces/video/carphone_qcif.mp4", 120),
        "intel_asl_yes.mkv": (data_dir / "faces/video/intel_asl_yes.mkv", 65),
        "intel_asl_thanks.mkv": (data_dir / "faces/video/intel_asl_thanks.mkv", 51),
        "license_plate_uk.mp4": (data_dir / "plates/video/license_plate_uk.mp4", 140),
        "prog_8s.mp4": (data_dir / "conformance/mp4ff/prog_8s.mp4", 240),
        "realshort.mp4": (data_dir / "conformance/imageio/realshort.mp4", 36),
    }
    corrupt = tmp_path / "corrupt.mp4"  # a real clip cut short inside its header: unreadable
    corrupt.write_bytes((data_dir / "faces/video/carphone_qcif.mp4").read_bytes()[:700])
    stall_url, server, release = _stalling_server()

    task = RecordingTask()
    pipeline = Pipeline([task], open_source=open_reader, max_batch=8, max_wait_ms=20, queue_size=4,
                        every_n=2)
    out = tmp_path / "events.jsonl"
    events: list[Event] = []
    with out.open("w") as f:
        writer = JsonlWriter(f)
        for event in pipeline.run([*(str(p) for p, _ in files.values()), str(corrupt), stall_url]):
            writer.write(event)
            events.append(event)
    release.set()
    server.join(5)

    by_source: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_source[e.source].append(e)
    stats = pipeline.metrics.snapshot()["sources"]
    assert isinstance(stats, dict)
    for name, (_, expected_frames) in files.items():
        s = stats[name]
        assert s["state"] == "finished", (name, s)
        # nothing lost: every decoded frame was analysed or deliberately sampled out
        assert s["decoded"] == s["analysed"] + s["sampled_out"]
        assert s["analysed"] == len(task.seen[name]) == (s["decoded"] + 1) // 2
        assert task.seen[name] == sorted(task.seen[name]) == list(range(0, s["decoded"], 2))
        assert s["decoded"] == expected_frames, name
        kinds = [e.kind for e in by_source[name]]
        assert kinds.count("frame_seen") == s["analysed"]
        assert kinds[-2:] == ["source_summary", "source_end"]

    assert stats["corrupt.mp4"]["state"] == "failed"
    errors = [e for e in by_source["corrupt.mp4"] if e.kind == "source_error"]
    assert len(errors) == 1 and issubclass(getattr(kuzet, errors[0].data["error"]), kuzet.DecodeError)

    stalled = stats[stall_url.rsplit("/", 1)[-1]]
    assert stalled["state"] == "failed" and "StreamTimeout" in stalled["error"]

    assert max(task.batch_sizes) <= 8
    depth_max = pipeline.metrics.snapshot()["gauges"]["queue_depth_max"]
    assert isinstance(depth_max, dict) and max(depth_max.values()) <= 4
    lines = out.read_text().splitlines()
    assert len(lines) == len(events) and json.loads(lines[0])["source"]
    assert not pipeline_threads()


@pytest.mark.timeout(60)
def test_stopping_early_shuts_down_cleanly(data_dir: Path):
    task = RecordingTask()
    pipeline = Pipeline([task], open_source=open_reader, max_batch=4, queue_size=2)
    sources = [str(data_dir / "conformance/debian/mwe_example-movie_60s.mp4")] * 3
    run = pipeline.run(sources)
    for n, _ in enumerate(run):
        if n == 10:
            break
    run.close()
    deadline = time.monotonic() + 10
    while pipeline_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pipeline_threads()
    s = pipeline.metrics.snapshot()["sources"]
    assert isinstance(s, dict)
    assert all(v["decoded"] < 1829 for v in s.values())  # stopped well before the end


def test_fps_sampling_keeps_about_n_frames_per_second(data_dir: Path):
    task = RecordingTask()
    pipeline = Pipeline([task], open_source=open_reader, fps=5)
    list(pipeline.run([str(data_dir / "plates/video/license_plate_uk.mp4")]))
    s = pipeline.metrics.source("license_plate_uk.mp4")
    assert s.decoded == 140 and s.decoded == s.analysed + s.sampled_out
    assert 22 <= s.analysed <= 25  # 4.67 s at 5 fps
    assert shutil.which("ffmpeg")


def test_pipeline_readers_sample_natively_with_the_same_rule(data_dir: Path):
    """kuzet's own readers sample inside the decoder (frames left out are never converted): the pipeline
    analyses exactly the frames its Python rule would keep, and still accounts for every decoded frame."""
    clip = data_dir / "plates/video/license_plate_uk.mp4"
    sampler = _Sampler(Sampling(every_n=2, fps=5))
    with kuzet.VideoReader(clip, device="cpu") as reader:
        want = [f.index for f in reader if sampler.keep(f.index, f.pts)]
    task = RecordingTask()
    pipeline = Pipeline([task], device="cpu", every_n=2, fps=5)
    list(pipeline.run([str(clip)]))
    s = pipeline.metrics.source("license_plate_uk.mp4")
    assert task.seen["license_plate_uk.mp4"] == want
    assert (s.decoded, s.analysed, s.sampled_out) == (140, len(want), 140 - len(want))


def test_default_queues_bound_total_frames_not_per_source_frames(data_dir: Path):
    clip = str(data_dir / "faces/video/carphone_qcif.mp4")
    task = RecordingTask()
    pipeline = Pipeline([task], open_source=open_reader, max_batch=8)
    list(pipeline.run([clip] * 16))
    depth_max = pipeline.metrics.snapshot()["gauges"]["queue_depth_max"]
    assert isinstance(depth_max, dict) and len(depth_max) == 16
    assert max(depth_max.values()) <= 2  # 2 * max_batch / 16 sources, at least 2 each
    assert sum(len(v) for v in task.seen.values()) == 16 * 120


@pytest.mark.timeout(60)
def test_stop_ends_a_stalled_live_source_without_waiting_for_its_timeout():
    # 9 s of video before the stall: more than FFmpeg probes at the start, so frames flow, then a read waits
    stall_url, server, release = _stalling_server(seconds=12, sent=0.75)
    pipeline = Pipeline([RecordingTask()], read_timeout=30, reconnect=0)
    run = pipeline.run([stall_url])
    name = stall_url.rsplit("/", 1)[-1]
    deadline = time.monotonic() + 20
    while pipeline.metrics.source(name).decoded == 0 and time.monotonic() < deadline:
        try:
            next(run)  # frames arrive as events, then the camera stalls with the connection open
        except StopIteration:
            break
    assert pipeline.metrics.source(name).decoded > 0
    time.sleep(0.5)  # the reader now waits for data that never comes (timeout 30 s)
    start = time.monotonic()
    run.close()
    assert time.monotonic() - start < 10  # stop() cancelled the blocked read
    assert not pipeline_threads()
    assert pipeline.metrics.source(name).state == "stopped", pipeline.metrics.source(name)
    release.set()
    server.join(5)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("live", [True, False])
def test_readers_blocked_on_a_stalled_camera_close_from_several_threads_at_once(live: bool):
    stall_url, server, release = _stalling_server(seconds=12, sent=0.75)
    # "block" so that a consumer slowed by a busy machine loses no frame (drop_oldest would, by design).
    reader = kuzet.VideoReader(stall_url, device="cpu", timeout=30, buffer="block" if live else None)
    frames: list[int] = []
    outcome: list[str] = []

    def consume() -> None:
        try:
            for frame in reader:
                frames.append(frame.index)
            outcome.append("ended")
        except kuzet.DecodeError as exc:
            outcome.append(str(exc))
        reader.close()  # the consumer closes too, as a `with` block would

    consumer = threading.Thread(target=consume)
    consumer.start()
    deadline = time.monotonic() + 20
    while len(frames) < 200 and time.monotonic() < deadline:  # 9 s sent: about 225 frames, then the stall
        time.sleep(0.05)
    time.sleep(0.5)
    start = time.monotonic()
    closers = [threading.Thread(target=reader.close) for _ in range(3)]
    for t in closers:
        t.start()
    for t in [*closers, consumer]:
        t.join(10)
    assert time.monotonic() - start < 5  # not the 30 s read timeout
    # the consumer either sees the end, or the close: between reads ("the reader is closed") or inside the
    # blocked read it cancelled ("...: reading was stopped (reader closed)")
    assert not consumer.is_alive() and len(outcome) == 1
    assert outcome[0] == "ended" or outcome[0].endswith(("the reader is closed", "(reader closed)")), outcome
    assert frames == list(range(len(frames))) and len(frames) >= 200
    with pytest.raises(kuzet.DecodeError, match="closed"):
        reader.stats  # noqa: B018 - a closed reader says so
    release.set()
    server.join(5)


# -- failures of the analysis itself, stop() at awkward moments, prompt ends, credentials ----------------------------
class FailingTask(RecordingTask):
    """Fails on its `fail_at`-th batch, as a task with a bug (or a model the runtime refuses) would."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at

    def process(self, items: list[FrameItem]) -> list[list[dict]]:
        if len(self.batch_sizes) + 1 == self.fail_at:
            raise RuntimeError("model exploded")
        return super().process(items)


@pytest.mark.timeout(120)
def test_a_failing_task_ends_every_source_with_its_reason_and_run_raises(data_dir: Path):
    clip = str(data_dir / "faces/video/carphone_qcif.mp4")
    pipeline = Pipeline([FailingTask(fail_at=3)], open_source=open_reader, max_batch=4)
    events: list[Event] = []
    with pytest.raises(kuzet.KuzetError, match="analysis failed .RuntimeError: model exploded") as raised:
        for event in pipeline.run([clip, clip]):
            events.append(event)
    assert isinstance(raised.value.__cause__, RuntimeError)
    for name in ("carphone_qcif.mp4", "carphone_qcif.mp4#2"):
        mine = [e for e in events if e.source == name]
        error = next(e for e in mine if e.kind == "source_error")
        assert "model exploded" in error.data["message"] and "Traceback" in error.data["traceback"]
        assert mine[-1].kind == "source_end" and mine[-1].data["state"] == "failed"
        assert "analysis failed" in mine[-1].data["error"]
    assert not pipeline_threads()


@pytest.mark.timeout(60)
def test_stop_while_the_event_queue_is_full_does_not_hang_the_consumer(data_dir: Path):
    clip = str(data_dir / "faces/video/carphone_qcif.mp4")
    pipeline = Pipeline([RecordingTask()], open_source=open_reader, max_batch=8)
    pipeline._events = __import__("queue").Queue(maxsize=5)  # fills at once: one event per frame
    run = pipeline.run([clip])
    first = next(run)
    time.sleep(1.0)  # the analysis thread now waits on the full queue
    threading.Thread(target=pipeline.stop).start()  # a service's shutdown, from another thread
    time.sleep(0.5)
    rest = list(run)  # drains what is queued, then ends instead of waiting for an end marker
    assert first.kind == "frame_seen" and len(rest) <= 5
    assert not pipeline_threads()


@pytest.mark.timeout(60)
def test_stop_while_a_source_is_still_opening():
    # A camera that accepts the connection and sends nothing: the reader's open waits for its timeout.
    srv = socket.create_server(("127.0.0.1", 0))
    url = f"tcp://127.0.0.1:{srv.getsockname()[1]}"
    opened = threading.Event()

    def open_slowly(u: str) -> kuzet.VideoReader:
        opened.set()
        return kuzet.VideoReader(u, device="cpu", timeout=3.0)

    pipeline = Pipeline([RecordingTask()], open_source=open_slowly)
    pipeline.start([url])
    assert opened.wait(10)
    pipeline.stop()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline.join(timeout=0.2)  # the open still waits: reported, not waited for 30 s per source
    assert any("threads still running" in str(w.message) for w in caught)
    pipeline.join(timeout=10)  # the open times out; the worker then ends as stopped, not as a failure
    assert not pipeline_threads()
    assert pipeline.metrics.source(url.rsplit("/", 1)[-1]).state == "stopped"
    srv.close()


@pytest.mark.timeout(60)
def test_a_source_ends_promptly_while_another_is_stalled(data_dir: Path):
    stall_url, server, release = _stalling_server(seconds=12, sent=0.75)
    clip = str(data_dir / "faces/video/carphone_qcif.mp4")
    pipeline = Pipeline([RecordingTask()], read_timeout=30, reconnect=0)
    run = pipeline.run([clip, stall_url])
    try:
        for event in run:
            if event.kind == "source_end":
                assert event.source == "carphone_qcif.mp4" and event.data["analysed"] == 120
                break
        # the stalled camera still holds its connection open: the clip's end did not wait for its next frame
        assert pipeline.metrics.source(stall_url.rsplit("/", 1)[-1]).state == "running"
    finally:
        run.close()
        release.set()
        server.join(5)


def test_camera_credentials_stay_out_of_events_and_messages():
    from kuzet.video import without_credentials

    assert without_credentials("rtsp://admin:s3cret@10.0.0.7:554/live?x=a@b") == "rtsp://***@10.0.0.7:554/live?x=a@b"
    assert without_credentials("rtsp://10.0.0.7/a@b") == "rtsp://10.0.0.7/a@b"
    assert without_credentials("/videos/a@b.mp4") == "/videos/a@b.mp4"
    url = "tcp://admin:s3cret@127.0.0.1:9/"  # nothing listens on port 9
    with pytest.raises(kuzet.DecodeError) as raised:
        kuzet.VideoReader(url, device="cpu", timeout=2.0)
    assert "s3cret" not in str(raised.value) and "***@127.0.0.1:9" in str(raised.value)
    events = list(Pipeline([RecordingTask()], device="cpu", read_timeout=2.0, reconnect=0).run([url]))
    assert [e.kind for e in events] == ["source_error", "source_summary", "source_end"]
    assert "s3cret" not in json.dumps([e.data for e in events])


def test_batching_options_are_checked_where_they_are_given():
    for kwargs in ({"max_batch": 0}, {"max_wait_ms": -1}, {"max_wait_ms": float("nan")}):
        with pytest.raises(kuzet.InvalidArgument, match="max_batch"):
            Pipeline([RecordingTask()], **kwargs)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_a_task_returning_results_for_other_frames_is_an_analysis_failure(data_dir: Path):
    class ShortTask(RecordingTask):
        def process(self, items: list[FrameItem]) -> list[list[dict]]:
            return super().process(items)[1:]  # one list short: every result would go to the wrong frame

    pipeline = Pipeline([ShortTask()], open_source=open_reader, max_batch=4)
    with pytest.raises(kuzet.KuzetError, match="returned 3 result lists for 4 frames"):
        list(pipeline.run([str(data_dir / "faces/video/carphone_qcif.mp4")]))


@pytest.mark.timeout(60)
def test_a_consumer_still_reading_after_stop_gets_every_source_s_end(data_dir: Path):
    """A service's shutdown calls stop() from another thread while its loop still reads events: each source
    still gets its last events (what its tasks hold, then source_end "stopped")."""
    stall_url, server, release = _stalling_server(seconds=12, sent=0.75)
    clip = str(data_dir / "conformance/debian/mwe_example-movie_60s.mp4")
    pipeline = Pipeline([RecordingTask()], read_timeout=30, reconnect=0, max_batch=4)
    events: list[Event] = []
    stopper = None
    for event in pipeline.run([clip, stall_url]):
        events.append(event)
        if stopper is None and event.kind == "frame_seen":
            stopper = threading.Thread(target=pipeline.stop)
            stopper.start()
    assert stopper is not None
    stopper.join()
    release.set()
    server.join(5)
    for name in ("mwe_example-movie_60s.mp4", stall_url.rsplit("/", 1)[-1]):
        mine = [e.kind for e in events if e.source == name]
        assert mine[-2:] == ["source_summary", "source_end"], (name, mine[-3:])
        end = next(e for e in reversed(events) if e.source == name)
        assert end.data["state"] == "stopped"
    assert not pipeline_threads()
