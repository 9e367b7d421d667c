"""The pipeline's built-in tasks on real clips: plate alerts bound to the signed evidence log."""

from __future__ import annotations

from pathlib import Path

import pytest

from kuzet.evidence import generate_keypair, load_manifest, make_exhibit, verify, verify_exhibit
from kuzet.pipeline import Pipeline


@pytest.mark.timeout(300)
def test_plate_alert_is_provable_against_the_signed_log(data_dir: Path, model_dir: Path, tmp_path: Path):
    video = data_dir / "plates/video/license_plate_uk.mp4"
    key = generate_keypair()
    pipeline = Pipeline(("plates", "evidence"), device="cpu", model_dir=model_dir, hotlist=["LS 15 EBC"],
                        plate_formats=("uk",), evidence_dir=tmp_path, signing_key=key, every_n=3, max_batch=8)
    events = list(pipeline.run([str(video)]))

    tracks = [e for e in events if e.kind == "plate"]
    mercedes = [e for e in tracks if e.data["text"] == "LS15EBC"]
    assert len(mercedes) == 1, [e.data["text"] for e in tracks]  # one track, read once, not per frame
    alert = mercedes[0]
    assert alert.data["hotlist"] == {"plate": "LS15EBC", "distance": 0, "exact": True}
    assert alert.data["frames"] >= 20
    reads = [e for e in events if e.kind == "plate_read"]
    assert reads and all(e.segment is not None and e.frame_index is not None for e in reads)

    sealed = [e for e in events if e.kind == "evidence"]
    assert len(sealed) == 1
    manifest = load_manifest(sealed[0].data["manifest"])
    assert manifest.tree_head.root_hash.hex() == sealed[0].data["root"] == alert.segment["root"]
    i = alert.segment["segment"]
    record = manifest.records[i]
    assert record.leaf_hash().hex() == alert.segment["leaf_hash"]
    tb = record.time_base[0] / record.time_base[1]
    assert record.start_pts * tb <= alert.pts <= record.end_pts * tb
    # the alert's segment is provable alone (court exhibit), and the whole recording verifies
    assert verify_exhibit(make_exhibit(manifest, i), public_keys=[key.public_key]).ok
    assert verify(video, manifest=manifest, public_keys=[key.public_key]).status == "ok"

    stats = pipeline.metrics.source(video.name)
    assert stats.decoded == 140 and stats.analysed == 47 and stats.sampled_out == 93
    assert 'kuzet_stage_items_total{stage="plates"} 47' in pipeline.metrics.prometheus()


def test_unknown_task_and_missing_evidence_options_are_clear_errors(tmp_path: Path):
    from kuzet.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="unknown task 'cars'"):
        Pipeline(("cars",))
    with pytest.raises(InvalidArgument, match="evidence_dir"):
        Pipeline(("evidence",))
    with pytest.raises(InvalidArgument, match="signing_key"):
        Pipeline(("evidence",), evidence_dir=tmp_path)
    with pytest.raises(InvalidArgument, match="every_n"):
        Pipeline(("evidence",), evidence_dir=tmp_path, signing_key=generate_keypair(), every_n=0)


def test_manifests_of_sources_with_one_file_name_never_overwrite_each_other(data_dir: Path, tmp_path: Path):
    import shutil

    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(data_dir / "faces/video/carphone_qcif.mp4", clips / "cam 1.mp4")
    shutil.copy(data_dir / "plates/video/license_plate_uk.mp4", clips / "cam_1.mp4")  # same file name once cleaned
    key = generate_keypair()

    def sealed_manifests() -> dict[str, str]:
        pipeline = Pipeline(("evidence",), device="cpu", evidence_dir=tmp_path / "ev", signing_key=key)
        events = list(pipeline.run([str(clips / "cam 1.mp4"), str(clips / "cam_1.mp4")]))
        return {e.source: e.data["manifest"] for e in events if e.kind == "evidence"}

    first, again = sealed_manifests(), sealed_manifests()  # a second run into the same directory
    paths = [*first.values(), *again.values()]
    assert len(set(paths)) == 4 and all(Path(p).stat().st_size > 0 for p in paths)
    for run in (first, again):
        for source, path in run.items():
            assert verify(clips / source, manifest=load_manifest(path), public_keys=[key.public_key]).status == "ok"


def test_live_recordings_cut_at_the_target_duration_the_manifest_signs(tmp_path: Path):
    from kuzet.evidence.records import signed_target_duration
    from kuzet.pipeline.live_evidence import LiveRecording

    recording = LiveRecording("cam", tmp_path / "cam", generate_keypair(), 0.4000055)
    assert recording.target_duration_s == signed_target_duration(0.4000055) != 0.4000055


def test_a_live_segment_out_of_order_ends_that_connection_s_log(tmp_path: Path):
    from kuzet.pipeline.live_evidence import LiveRecording

    recording = LiveRecording("cam", tmp_path / "cam", generate_keypair(), 2.0)
    recording.recording_path(0)
    recording.note_frame(0, 0.0, 0, 1)
    recording.segment(0, {"index": 1}, 0.0, 2.0, True)  # segment 0's report was lost on the way
    (error,) = recording.take_events()
    assert "segment 1 arrived where segment 0 was due" in error["message"]
    assert recording.lookup(0.0, 0) is None  # never a shifted leaf hash


def test_files_are_sealed_beside_the_decoding_and_frames_past_the_seal_name_no_segment(data_dir: Path,
                                                                                      tmp_path: Path):
    from kuzet.pipeline.builtin_tasks import EvidenceTask

    task = EvidenceTask(tmp_path, generate_keypair())
    task.start_source("uk", str(data_dir / "plates/video/license_plate_uk.mp4"))
    sealed = task._sealing["uk"].result(timeout=60)  # sealed on its own thread, before any lookup asks
    assert not isinstance(sealed, str) and len(sealed.ends) >= 2
    first, last = task.lookup("uk", 0.0), task.lookup("uk", sealed.ends[-1])
    assert first is not None and first["segment"] == 0
    assert last is not None and last["segment"] == len(sealed.ends) - 1
    assert task.lookup("uk", sealed.ends[-1] + 1.0) is None  # a frame the sealed file does not hold
    (event,) = task.finish_source("uk")
    assert event["kind"] == "evidence" and event["root"] == sealed.root and task._sealer is None
