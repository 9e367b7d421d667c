"""kuzet's own SIMD YUV 4:2:0 -> RGB converter (src/cpp/decode/cpu_yuv_to_rgb.cpp) against swscale.

Where swscale takes its unscaled 8-bit 4:2:0 -> RGB24 path (yuv420p/yuvj420p of even height), every pixel of
ours must equal swscale's, at every SIMD level (AVX-512BW, AVX2, scalar), for packed RGB, packed BGR and
planar RGB, on real clips (720p, 1080p, widths that are not a multiple of the vector width, odd widths,
BT.601/BT.709, limited/full range) and on random planes. Frames of odd height keep swscale. NV12 input (not
an swscale fast path) must give what the same samples give as yuv420p, and what the CUDA kernels' host
twin gives.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kuzet
from decode_helpers import open_reader
from kuzet._native import core

OURS = ("scalar", "avx2", "avx512")
RGB_LAYOUTS = ("rgb", "bgr", "rgb_planar")
FRAMES_PER_CLIP = 3

# (file, pixel format, colour space as FFmpeg names it, full range, width, height)
REAL_CASES = [
    ("plates/video/license_plate_uk.mp4", "yuv420p", "unknown", False, 1280, 720),
    ("conformance/debian/phone_vfr_VID_20191220_170832.mp4", "yuv420p", "bt709", False, 1920, 1080),
    ("faces/video/short_hamilton_clip.mp4", "yuv420p", "bt709", False, 640, 360),
    ("faces/video/intel_asl_yes.mkv", "yuvj420p", "unknown", True, 640, 480),
    ("faces/video/carphone_qcif.mp4", "yuv420p", "unknown", False, 176, 144),  # 176 = 5 x 32 + 16
    ("faces/images/opencv/messi5.jpg", "yuvj420p", "bt470bg", True, 548, 342),
    ("faces/images/ultralytics/bus.jpg", "yuvj420p", "bt470bg", True, 810, 1080),  # odd chroma width
    ("conformance/debian/psychtoolbox_DualDiscs.mov", "yuv420p", "smpte170m", False, 640, 465),  # odd height
]


@pytest.fixture(scope="module")
def odd_size_clips(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real UK street clip cropped to odd widths (FFV1 keeps 4:2:0 at any size, losslessly)."""
    out = tmp_path_factory.mktemp("odd_sizes")
    clips = {}
    for w, h in ((1277, 718), (1279, 717)):
        path = out / f"uk_{w}x{h}.mkv"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(data_dir / "plates/video/license_plate_uk.mp4"),
                "-frames:v",
                str(FRAMES_PER_CLIP),
                "-vf",
                f"crop={w}:{h}:2:2:exact=1",
                "-c:v",
                "ffv1",
                "-pix_fmt",
                "yuv420p",
                "-an",
                str(path),
            ],
            check=True,
            timeout=60,
        )
        clips[f"{w}x{h}"] = path
    return clips


def _check_clip(path: Path, pixel_format: str, space: str, full_range: bool, width: int, height: int) -> None:
    yuv = open_reader(path, layout="yuv420p")
    m = yuv.metadata
    assert (m.width, m.height, m.pixel_format) == (width, height, pixel_format)
    assert m.color_space == space and (m.color_range == "pc") == full_range
    readers = {layout: open_reader(path, layout=layout) for layout in RGB_LAYOUTS}
    for _ in range(FRAMES_PER_CLIP):
        frame = yuv.read()
        if frame is None:
            break  # a still image has one frame
        args = (frame.data, width, height, pixel_format, space, full_range)
        for layout, reader in readers.items():
            decoded = reader.read()
            assert decoded is not None
            swscale = core._yuv420_to_rgb(*args, layout, "swscale")
            # What the reader hands out (the fastest converter) is exactly what swscale makes...
            assert np.array_equal(decoded.data, swscale), f"{path.name} frame {frame.index} {layout}"
            if height % 2:
                continue  # swscale's general path serves odd heights: the reader keeps it (checked above)
            # ...and so is each SIMD level of ours (the reader ran only the widest this CPU has).
            for converter in OURS:
                ours = core._yuv420_to_rgb(*args, layout, converter)
                assert ours.shape == swscale.shape
                assert np.array_equal(ours, swscale), f"{path.name} frame {frame.index} {layout} {converter}"


@pytest.mark.parametrize(("relpath", "pixel_format", "space", "full_range", "width", "height"), REAL_CASES)
def test_real_frames_match_swscale_exactly(data_dir, relpath, pixel_format, space, full_range, width, height):
    _check_clip(data_dir / relpath, pixel_format, space, full_range, width, height)


@pytest.mark.parametrize("size", ["1277x718", "1279x717"])
def test_odd_widths_match_swscale_exactly(odd_size_clips, size):
    w, h = (int(v) for v in size.split("x"))
    _check_clip(odd_size_clips[size], "yuv420p", "unknown", False, w, h)


def test_planar_rgb_is_the_packed_rgb_split(data_dir):
    path = data_dir / "plates/video/license_plate_uk.mp4"
    packed, planar = open_reader(path, layout="rgb").read(), open_reader(path, layout="rgb_planar").read()
    assert packed is not None and planar is not None
    assert np.array_equal(planar.data, packed.data.transpose(2, 0, 1))


SPACES = ["unknown", "bt709", "smpte170m", "bt470bg", "bt2020nc", "fcc", "smpte240m"]


@st.composite
def yuv420p_frames(draw: st.DrawFn, even_height: bool = True) -> tuple[np.ndarray, int, int]:
    width = draw(st.integers(1, 140))
    height = 2 * draw(st.integers(1, 12)) if even_height else draw(st.integers(1, 25))
    size = width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(["random", "extremes"]))
    rng = np.random.default_rng(seed)
    if kind == "random":
        data = rng.integers(0, 256, size, dtype=np.uint8)
    else:  # saturating corners: 0/255 luma against 0/255 chroma
        data = rng.choice(np.array([0, 1, 16, 235, 240, 254, 255], dtype=np.uint8), size)
    return data, width, height


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=yuv420p_frames(),
    space=st.sampled_from(SPACES),
    full_range=st.booleans(),
    layout=st.sampled_from(RGB_LAYOUTS),
)
def test_random_planes_match_swscale_exactly(frame, space, full_range, layout):
    data, width, height = frame
    pixel_format = "yuvj420p" if full_range else "yuv420p"
    args = (data, width, height, pixel_format, space, full_range, layout)
    swscale = core._yuv420_to_rgb(*args, "swscale")
    for converter in (*OURS, "auto"):
        assert np.array_equal(core._yuv420_to_rgb(*args, converter), swscale), converter


def _to_nv12(data: np.ndarray, width: int, height: int) -> np.ndarray:
    luma = width * height
    chroma = ((width + 1) // 2) * ((height + 1) // 2)
    u, v = data[luma : luma + chroma], data[luma + chroma :]
    uv = np.empty(2 * chroma, np.uint8)
    uv[0::2], uv[1::2] = u, v
    return np.concatenate([data[:luma], uv])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=yuv420p_frames(even_height=False),
    space=st.sampled_from(SPACES),
    full_range=st.booleans(),
    layout=st.sampled_from(RGB_LAYOUTS),
)
def test_nv12_and_odd_heights_agree_with_the_scalar_reference(frame, space, full_range, layout):
    data, width, height = frame
    nv12 = _to_nv12(data, width, height)
    scalar = core._yuv420_to_rgb(data, width, height, "yuv420p", space, full_range, layout, "scalar")
    for converter in OURS:
        planar_in = core._yuv420_to_rgb(data, width, height, "yuv420p", space, full_range, layout, converter)
        assert np.array_equal(planar_in, scalar), converter
        nv12_in = core._yuv420_to_rgb(nv12, width, height, "nv12", space, full_range, layout, converter)
        assert np.array_equal(nv12_in, scalar), converter
    # The CUDA kernels' host twin is that same arithmetic: the GPU and CPU paths agree.
    assert np.array_equal(core._semi_planar_to_rgb_reference(nv12, width, height, space, full_range, layout), scalar)


def test_simd_level_is_reported():
    assert core._cpu_simd_level() in {"scalar", "avx2", "avx512"}


def test_hook_rejects_bad_input():
    frame = np.zeros(6, np.uint8)  # a 2x2 yuv420p frame
    assert core._yuv420_to_rgb(frame, 2, 2, "yuv420p", "bt709", False, "rgb", "avx2").shape == (2, 2, 3)
    with pytest.raises(kuzet.InvalidArgument, match="has 6 bytes, got 5"):
        core._yuv420_to_rgb(frame[:5], 2, 2, "yuv420p", "bt709", False, "rgb", "avx2")
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format"):
        core._yuv420_to_rgb(frame, 2, 2, "yuv444p", "bt709", False, "rgb", "avx2")
    with pytest.raises(kuzet.InvalidArgument, match="colour space"):
        core._yuv420_to_rgb(frame, 2, 2, "yuv420p", "nonsense", False, "rgb", "avx2")
    with pytest.raises(kuzet.InvalidArgument, match="layout"):
        core._yuv420_to_rgb(frame, 2, 2, "yuv420p", "bt709", False, "nv12", "avx2")
    with pytest.raises(kuzet.InvalidArgument, match="converter"):
        core._yuv420_to_rgb(frame, 2, 2, "yuv420p", "bt709", False, "rgb", "neon")
    with pytest.raises(kuzet.InvalidArgument, match="repeat"):
        core._yuv420_to_rgb(frame, 2, 2, "yuv420p", "bt709", False, "rgb", "avx2", 0)


# --- the raw layouts' plane copy (streaming stores for frames of 1 MiB and more) ---------------------------


@pytest.mark.parametrize(
    ("relpath", "frames"),
    [("conformance/debian/phone_vfr_VID_20191220_170832.mp4", 4), ("plates/video/license_plate_uk.mp4", 4)],
)
def test_raw_frames_equal_ffmpeg_rawvideo(data_dir, relpath, frames):
    path = data_dir / relpath
    reader = open_reader(path, layout="native")
    m = reader.metadata
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            str(frames),
            "-fps_mode",
            "passthrough",  # one output frame per decoded frame (the clip is VFR)
            "-f",
            "rawvideo",
            "-pix_fmt",
            m.pixel_format,
            "-",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    size = m.width * m.height * 3 // 2
    assert size >= 1 << 20 and len(raw) == frames * size
    for i in range(frames):
        frame = reader.read()
        assert frame is not None and frame.data.nbytes == size
        assert frame.data.tobytes() == raw[i * size : (i + 1) * size], f"{relpath} frame {i}"
