"""4:2:0 streams deeper than 8 bits (10-bit H.264 High 10, and 9/12-bit clips made here): the CPU reduces them
to 8 bits exactly as the GPU path reduces NVDEC's P010/P016 frames, so its yuv420p/nv12 output equals the
to_yuv420 kernel's and its RGB the to_rgb kernel's (both run on the host through their twins)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from decode_helpers import open_reader
from kuzet._native import core

HIGH10 = "conformance/h264_frext/PPH10I2_Panasonic_A.264"  # 1280x720 yuv420p10le, untagged (BT.601)


def planes(native: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = native.view("<u2")
    cw, ch = (width + 1) // 2, (height + 1) // 2
    y = s[: width * height].reshape(height, width)
    u = s[width * height: width * height + cw * ch].reshape(ch, cw)
    v = s[width * height + cw * ch:].reshape(ch, cw)
    return y, u, v


def reduced(x: np.ndarray, bits: int) -> np.ndarray:
    """The GPU's to_8bit on a sample at the top of 16 bits."""
    return np.minimum(((x.astype(np.int64) << (16 - bits)) + 128) >> 8, 255).astype(np.uint8)


def p016(y: np.ndarray, u: np.ndarray, v: np.ndarray, bits: int) -> np.ndarray:
    """The frame as NVDEC hands it out: P010/P016, samples at the top of 16 bits, U/V interleaved."""
    uv = np.stack([u, v], axis=-1).reshape(u.shape[0], -1)
    packed = np.concatenate([y.ravel(), uv.ravel()]).astype(np.uint32) << (16 - bits)
    return packed.astype("<u2").view(np.uint8)


def frames(path: Path, layout: str, count: int) -> list[np.ndarray]:
    with open_reader(path, layout=layout) as reader:
        return [f.data for _, f in zip(range(count), reader, strict=False)]


def check_against_gpu_twins(path: Path, bits: int, color_space: str, full_range: bool, count: int) -> None:
    with open_reader(path, layout="native") as reader:
        width, height = reader.metadata.width, reader.metadata.height
    natives = frames(path, "native", count)
    outputs = {layout: frames(path, layout, count) for layout in ("yuv420p", "nv12", "rgb", "bgr", "rgb_planar")}
    assert len(natives) == count
    for i, native in enumerate(natives):
        y, u, v = planes(native, width, height)
        want_planar = np.concatenate([reduced(p, bits).ravel() for p in (y, u, v)])
        assert np.array_equal(outputs["yuv420p"][i], want_planar), f"frame {i}"
        gpu_frame = p016(y, u, v, bits)
        assert np.array_equal(outputs["yuv420p"][i],
                              core._yuv420_kernel_on_host(gpu_frame.view("<u2"), width, height, interleaved_uv=False))
        assert np.array_equal(outputs["nv12"][i],
                              core._yuv420_kernel_on_host(gpu_frame.view("<u2"), width, height, interleaved_uv=True))
        if height % 2:
            continue  # RGB of odd heights stays with swscale (as for 8-bit frames)
        rgb = core._semi_planar_to_rgb_reference(gpu_frame, width, height, color_space, full_range, "rgb",
                                                 sixteen_bit=True)
        assert np.array_equal(outputs["rgb"][i], rgb), f"frame {i}: {int((outputs['rgb'][i] != rgb).sum())} differ"
        assert np.array_equal(outputs["bgr"][i], rgb[..., ::-1])
        assert np.array_equal(outputs["rgb_planar"][i], rgb.transpose(2, 0, 1))


def test_high10_h264_matches_what_the_gpu_computes(data_dir: Path) -> None:
    check_against_gpu_twins(data_dir / HIGH10, 10, "bt470bg", False, 3)


@pytest.mark.parametrize("pix_fmt, bits, size, tags", [
    ("yuv420p12le", 12, "96x64", ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"]),
    ("yuv420p9le", 9, "70x46", []),
    ("yuv420p10le", 10, "66x40", ["-color_range", "pc"]),
    ("yuv420p16le", 16, "34x18", ["-colorspace", "bt709"]),
    ("yuv420p10le", 10, "64x35", []),  # odd height: YUV reduced, RGB by swscale
])
def test_generated_deep_clips_match_what_the_gpu_computes(tmp_path: Path, pix_fmt: str, bits: int, size: str,
                                                          tags: list[str]) -> None:
    clip = tmp_path / "deep.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=10:duration=0.3",
                    "-pix_fmt", pix_fmt, *tags, "-c:v", "ffv1", str(clip)], check=True)
    with open_reader(clip, layout="native") as reader:
        assert reader.metadata.pixel_format == pix_fmt
        full = reader.metadata.color_range == "pc"
        space = "bt709" if reader.metadata.color_space == "bt709" else "bt470bg"
    check_against_gpu_twins(clip, bits, space, full, 3)
    rgb = frames(clip, "rgb", 1)[0]
    assert rgb.std() > 20  # a real picture, not a flat buffer
