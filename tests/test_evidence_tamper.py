"""Tampering matrix on real recordings: every edit is detected and named by segment.

Segment-level edits rewrite the packet stream with PyAV (no re-encoding) into Matroska; the manifest is
sealed from an untouched PyAV re-mux made the same way, so only the edit differs."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import pytest

import kuzet.evidence as ev

HAMILTON = "faces/video/short_hamilton_clip.mp4"  # 6 GOPs, H.264 + AAC
PLATES = "plates/video/license_plate_uk.mp4"  # 2 GOPs, H.264 + AAC, 720p


@pytest.fixture(scope="module")
def key() -> ev.PrivateKey:
    return ev.generate_keypair()


def _groups(path: Path) -> tuple[list[list[av.Packet]], list[float]]:
    """The file's packets in demux order, split at video key frames (one group per GOP), and each
    group's start time in seconds."""
    container = av.open(str(path))
    video = container.streams.video[0].index
    groups: list[list[av.Packet]] = [[]]
    starts: list[float] = []
    for pkt in container.demux():
        if pkt.dts is None and pkt.pts is None:
            continue
        if pkt.stream_index == video and pkt.is_keyframe:
            if any(p.stream_index == video for p in groups[-1]):
                groups.append([])
            starts.append(float(pkt.pts * pkt.time_base))
        groups[-1].append(pkt)
    container.close()
    return groups, starts


def _write(
    src: Path, dst: Path, edit: Callable[[list[list[av.Packet]], list[float]], list[tuple[list, float]]]
):
    """Re-muxes src into dst (-c copy) with the groups edit() returns, each as (packets, time shift in s)."""
    groups, starts = _groups(src)
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="matroska") as out:
        streams = {
            s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")
        }
        for packets, shift_s in edit(groups, starts):
            for pkt in packets:
                step = round(shift_s / pkt.time_base)
                if pkt.pts is not None:
                    pkt.pts += step
                if pkt.dts is not None:
                    pkt.dts += step
                pkt.stream = streams[pkt.stream_index]
                out.mux(pkt)


def _identity(groups, starts):
    return [(g, 0.0) for g in groups]


@pytest.fixture(scope="module")
def hamilton(data_dir: Path, tmp_path_factory: pytest.TempPathFactory, key: ev.PrivateKey):
    """(untouched re-mux, its manifest sealed at one segment per GOP, directory for edits)."""
    work = tmp_path_factory.mktemp("tamper")
    base = work / "base.mkv"
    _write(data_dir / HAMILTON, base, _identity)
    manifest = ev.seal(base, private_key=key, target_duration_s=0.0, log_id="cam-1/rec-42")
    assert manifest.tree_head.tree_size == 6
    return base, manifest, work


def _verify(video: Path, manifest: ev.Manifest, key: ev.PrivateKey) -> ev.VerificationReport:
    return ev.verify(video, manifest=manifest, public_keys=[key.public_key])


def _changes(r: ev.VerificationReport) -> dict:
    return {
        "modified": r.modified,
        "missing": r.missing,
        "extra": r.extra,
        "reordered": r.reordered,
        "retimed": r.retimed,
    }


def test_untouched_copy_verifies(hamilton, key) -> None:
    base, manifest, work = hamilton
    copy = work / "copy.mkv"
    copy.write_bytes(base.read_bytes())
    report = _verify(copy, manifest, key)
    assert report.ok and report.exit_code == 0
    assert report.actual_order == (0, 1, 2, 3, 4, 5)
    assert report.signer_key_id == key.public_key.key_id


@pytest.mark.parametrize("segment", [0, 3, 5])
def test_one_flipped_byte_in_a_packet_names_that_segment(data_dir, key, tmp_path, segment) -> None:
    original = data_dir / HAMILTON
    manifest = ev.seal(original, private_key=key, target_duration_s=0.0)
    groups, _ = _groups(original)
    victim = max(groups[segment], key=lambda p: p.size)  # a large packet: the byte is surely payload
    assert victim.pos is not None and victim.size > 100
    data = bytearray(original.read_bytes())
    data[victim.pos + victim.size // 2] ^= 0x01
    edited = tmp_path / "flipped.mp4"
    edited.write_bytes(bytes(data))
    report = _verify(edited, manifest, key)
    assert report.status == "tampered" and report.exit_code == 1
    assert _changes(report) == {
        "modified": (segment,),
        "missing": (),
        "extra": (),
        "reordered": (),
        "retimed": (),
    }
    assert report.payload_intact is False


@pytest.mark.parametrize("segment", [0, 2, 5])
def test_deleted_segment_is_missing(hamilton, key, segment) -> None:
    base, manifest, work = hamilton
    edited = work / f"deleted{segment}.mkv"
    _write(base, edited, lambda g, s: [(grp, 0.0) for i, grp in enumerate(g) if i != segment])
    report = _verify(edited, manifest, key)
    assert _changes(report) == {
        "modified": (),
        "missing": (segment,),
        "extra": (),
        "reordered": (),
        "retimed": (),
    }
    assert report.actual_segments == 5


def test_duplicated_segment_is_extra_and_later_ones_retimed(hamilton, key) -> None:
    base, manifest, work = hamilton
    edited = work / "duplicated.mkv"

    def duplicate_2(groups, starts):
        d = starts[3] - starts[2]
        return [(groups[0], 0), (groups[1], 0), (groups[2], 0), (groups[2], d)] + [(g, d) for g in groups[3:]]

    _write(base, edited, duplicate_2)
    report = _verify(edited, manifest, key)
    assert report.actual_segments == 7
    assert report.extra in ((2,), (3,))  # one of the two copies
    assert report.duplicates == ((report.extra[0], 2),)
    assert (report.modified, report.missing, report.reordered) == ((), (), ())
    assert set(report.retimed) >= {3, 4, 5}  # everything after the copy plays 1 GOP late
    assert sorted(i for i in report.actual_order if i is not None) == [0, 1, 2, 3, 4, 5]


def test_swapped_segments_are_reordered(hamilton, key) -> None:
    base, manifest, work = hamilton
    edited = work / "swapped.mkv"

    def swap_1_2(groups, starts):
        d1, d2 = starts[2] - starts[1], starts[3] - starts[2]
        return [(groups[0], 0), (groups[2], -d1), (groups[1], d2)] + [(g, 0) for g in groups[3:]]

    _write(base, edited, swap_1_2)
    report = _verify(edited, manifest, key)
    assert report.actual_order == (0, 2, 1, 3, 4, 5)
    assert report.reordered == (1, 2)
    assert report.retimed == (1, 2)
    assert (report.modified, report.missing, report.extra) == ((), (), ())


def test_truncated_file_loses_the_tail(hamilton, key) -> None:
    base, manifest, work = hamilton
    edited = work / "truncated.mkv"
    data = base.read_bytes()
    edited.write_bytes(data[: len(data) // 2])
    report = _verify(edited, manifest, key)
    assert report.status == "tampered"
    assert 1 <= report.actual_segments < 6
    last = report.actual_segments - 1
    assert report.modified == (last,)  # the segment cut in the middle
    assert report.missing == tuple(range(last + 1, 6))
    assert report.extra == () and report.retimed == ()


def test_truncated_mp4_without_index_is_unreadable_and_tampered(data_dir, key, tmp_path) -> None:
    original = data_dir / HAMILTON  # moov atom at the end: the cut file has no sample index
    manifest = ev.seal(original, private_key=key, target_duration_s=1.0)
    edited = tmp_path / "cut.mp4"
    data = original.read_bytes()
    edited.write_bytes(data[: len(data) * 9 // 10])
    report = _verify(edited, manifest, key)
    assert report.status == "tampered" and report.exit_code == 1
    assert report.media_error and "cut.mp4" in report.media_error
    assert report.missing == tuple(range(6)) and report.actual_segments == 0


def test_reencoded_recording_is_modified_everywhere(data_dir, key, tmp_path) -> None:
    original = data_dir / PLATES
    manifest = ev.seal(original, private_key=key, target_duration_s=2.0)
    edited = tmp_path / "reencoded.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(original),
            "-map",
            "0",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "128",
            "-c:a",
            "copy",
            str(edited),
        ],
        check=True,
    )
    report = _verify(edited, manifest, key)
    assert report.status == "tampered"
    assert report.stream_params_changed
    assert set(report.modified) | set(report.missing) == {0, 1}
    assert report.payload_intact is False


@pytest.mark.parametrize(
    ("container", "outcome"),
    [
        # FFmpeg's -c copy keeps every packet but moves all timestamps by 96/11988 s (edit list handling).
        ("mp4", "retimed"),
        ("mov", "retimed"),
        ("mkv", "retimed+params"),  # packets intact; Matroska's 1 ms time base rounds every timestamp
        ("ts", "modified"),  # H.264 is rewritten from AVCC to Annex B: packet bytes differ
    ],
)
def test_lossless_remux_outcome(data_dir, key, tmp_path, container, outcome) -> None:
    """What `ffmpeg -c copy` to another file does: documented in docs/evidence-format.md."""
    original = data_dir / HAMILTON
    manifest = ev.seal(original, private_key=key, target_duration_s=1.0)
    remuxed = tmp_path / f"remux.{container}"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(original), "-map", "0", "-c", "copy", str(remuxed)], check=True
    )
    report = _verify(remuxed, manifest, key)
    assert report.status == "tampered"
    everything = tuple(range(6))
    if outcome == "modified":
        assert report.modified == everything and not report.payload_intact
    else:
        assert report.payload_intact  # the same packets in the same segments...
        assert report.retimed == everything  # ...with other timestamps
        assert report.stream_params_changed is (outcome == "retimed+params")


def _set_display_matrix(data: bytearray, matrix: list[int]) -> None:
    """Overwrites the video track header's (tkhd, version 0) 3x3 display matrix in an MP4, in place."""
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0  # version 0: 40 bytes of fields, then the matrix
    data[at + 44 : at + 80] = b"".join(v.to_bytes(4, "big", signed=True) for v in matrix)


@pytest.mark.parametrize("turn", ["rotated 180", "mirrored"])
def test_a_picture_turned_or_mirrored_by_its_container_is_caught(data_dir, key, tmp_path, turn) -> None:
    """36 bytes of the track header turn (or mirror: who struck whom) every frame without touching a
    packet: the stream parameters digest covers the display matrix."""
    original = data_dir / HAMILTON
    manifest = ev.seal(original, private_key=key, target_duration_s=0.0)
    one, minus_one, w = 1 << 16, -(1 << 16), 1 << 30  # 16.16 and 2.30 fixed point
    matrix = [minus_one, 0, 0, 0, minus_one, 0, 0, 0, w] if turn == "rotated 180" else \
        [minus_one, 0, 0, 0, one, 0, 0, 0, w]
    data = bytearray(original.read_bytes())
    _set_display_matrix(data, matrix)
    edited = tmp_path / "turned.mp4"
    edited.write_bytes(bytes(data))
    report = _verify(edited, manifest, key)
    assert report.status == "tampered" and report.stream_params_changed and report.payload_intact
    untouched = bytearray(original.read_bytes())
    _set_display_matrix(untouched, [one, 0, 0, 0, one, 0, 0, 0, w])  # the identity it already holds
    (tmp_path / "same.mp4").write_bytes(bytes(untouched))
    assert _verify(tmp_path / "same.mp4", manifest, key).status == "ok"


def test_manifests_sealed_before_the_display_matrix_was_hashed_still_verify(data_dir, key, tmp_path) -> None:
    original = data_dir / HAMILTON
    seg = ev.segment_file(original, target_duration_s=0.0, stream_params_version=1)
    from kuzet.evidence.manifest import build_manifest

    old = build_manifest(seg.records, key, log_id="old", target_duration_s=0.0, stream_params_version=1)
    old.write(tmp_path / "old.json")
    assert "kuzet.params" not in (tmp_path / "old.json").read_text()  # as kuzet wrote it before
    loaded = ev.load_manifest(tmp_path / "old.json")
    assert loaded.stream_params_version == 1 and _verify(original, loaded, key).status == "ok"
    new = ev.seal(original, private_key=key, target_duration_s=0.0)
    assert new.stream_params_version == 2 and new.records[0].stream_params_digest != old.records[0].stream_params_digest
