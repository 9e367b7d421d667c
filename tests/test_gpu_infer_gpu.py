"""The GPU paths of the face and plate pipelines on a real GPU: CPU and CUDA agree (boxes within 1 px,
embeddings at cosine >= 0.999, the same plate texts, the same watchlist matches) on the real images and videos
of the CPU tests. Needs a CUDA build of kuzet with a device and onnxruntime-gpu (the watchlist test also CuPy);
skips with the reason otherwise (never under KUZET_REQUIRE_GPU=1). Run on the GPU machine by scripts/gpu-check.sh.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import kuzet
from faces_helpers import load_rgb
from gpu_helpers import REQUIRES_CUDA_AND_ORT_GPU, import_gpu_module, skip_now_without_gpu
from kuzet._native import core
from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
from kuzet.models.device_buffers import BufferCache, upload
from kuzet.plates import PlateDetector, PlatePipeline, PlateReader

pytestmark = REQUIRES_CUDA_AND_ORT_GPU

FACE_STILLS = ["insightface/t1.jpg", "ultralytics/zidane.jpg", "skimage/astronaut.png", "deepface/couple.jpg",
               "deepface/selfie-many-people.jpg", "facenet_pytorch/multiface.jpg", "face_recognition/two_people.jpg"]
PLATE_STILLS = {
    "yolov4_custom_functions/car.jpg": ["FMA6383"],
    "yolov4_custom_functions/car2.jpg": ["STA5131E"],
    "yolov4_custom_functions/car3.jpg": ["VODKAA"],
    "yolov4_custom_functions/car4.jpg": ["KS67AEA"],
    "fast_alpr/test_image.png": ["5AU5341"],
    "parkpow/demo.jpg": ["BY649AG", "ZA834CO"],
}


class RoiView:
    """A rectangle of an HxWx3 CUDA array, as a strided CUDA array (rows keep the frame's pitch)."""

    def __init__(self, frame: Any, y: int, x: int, h: int, w: int) -> None:
        cai = frame.__cuda_array_interface__
        pitch = cai["shape"][1] * 3
        self.shape = (h, w, 3)
        self.__cuda_array_interface__ = {"shape": self.shape, "typestr": "|u1", "strides": (pitch, 3, 1),
                                         "data": (cai["data"][0] + y * pitch + 3 * x, False), "version": 3}
        self._frame = frame


@pytest.fixture(scope="module")
def face_stills(data_dir: Path) -> list[np.ndarray]:
    return [load_rgb(data_dir / "faces" / "images" / name) for name in FACE_STILLS]


@pytest.fixture(scope="module")
def pipelines(model_dir: Path) -> tuple[FacePipeline, FacePipeline]:
    def pipeline(device: str, watchlist: Watchlist) -> FacePipeline:
        return FacePipeline(detector=FaceDetector(model_dir=model_dir, device=device),
                            embedder=FaceEmbedder(model_dir=model_dir, device=device), watchlist=watchlist)

    cpu = pipeline("cpu", Watchlist())
    gpu = pipeline("cuda", cpu.watchlist)  # type: ignore[arg-type]
    assert gpu.device == "cuda:0" and gpu.gpu_preprocessing and cpu.device == "cpu"
    return cpu, gpu


def assert_faces_agree(cpu: list[list[kuzet.Face]], gpu: list[list[kuzet.Face]]) -> None:
    assert [len(f) for f in cpu] == [len(f) for f in gpu]
    for fc, fg in zip(cpu, gpu, strict=True):
        for c, g in zip(fc, fg, strict=True):
            assert np.abs(np.subtract(c.box, g.box)).max() <= 1.0, (c.box, g.box)
            assert float(np.dot(c.embedding, g.embedding)) >= 0.999
            assert c.identity == g.identity


def test_kernels_on_device_frames_equal_the_cpu(face_stills: list[np.ndarray]) -> None:
    frames = [upload(f, 0) for f in face_stills[:3]]
    frames.append(RoiView(frames[0], 17, 33, 201, 305))  # strided: a region of a frame
    hosts = [*face_stills[:3], face_stills[0][17:218, 33:338]]
    cache = BufferCache(0)
    kwargs = {"channel_order": "bgr", "mean": (104.0, 117.0, 123.0), "scale": (0.5, 0.5, 0.5), "pad_value": -3.0,
              "fit": "letterbox_topleft"}
    out = cache.view("input", (4, 3, 320, 480), np.float32)
    transforms = core.cuda_preprocess_batch(frames, out, **kwargs)
    cpu_batch, cpu_t = core.preprocess_batch(hosts, 320, 480, **kwargs)
    np.testing.assert_array_equal(transforms, cpu_t)
    assert np.abs(out.numpy() - cpu_batch).max() <= 0.5 + 1e-3  # one grey level times the scale
    matrices = np.array([[[0.8, 0.2, 100.3], [-0.2, 0.8, 50.7], [0, 0, 1]],
                         [[0.8, 0.2, -20.3], [-0.2, 0.8, 50.7], [1e-4, 2e-4, 1]]] * 2)
    index = np.array([0, 1, 2, 3], np.int32)
    crops = cache.view("crops", (4, 112, 96, 3), np.uint8)
    assert core.cuda_warp_batch(frames, index, matrices, 112, 96, out=crops, border_value=9) is crops
    cpu_crops = core.warp_batch(hosts, index, matrices, 112, 96, border_value=9)
    assert np.abs(crops.numpy().astype(int) - cpu_crops).max() <= 1
    host_crops = core.cuda_warp_batch(frames, index, matrices, 112, 96, border_value=9)
    np.testing.assert_array_equal(host_crops, crops.numpy())


def test_kernels_wait_for_the_producers_streams(face_stills: list[np.ndarray]) -> None:
    """Sources and out made by CuPy on a non-blocking stream still at work: __cuda_array_interface__ names that
    stream (v3), and the kernels must wait for it before reading the frames and before writing into out."""
    cupy = import_gpu_module("cupy")
    hosts = face_stills[:2]
    kwargs = {"channel_order": "bgr", "mean": (104.0, 117.0, 123.0), "scale": (0.5, 0.5, 0.5), "pad_value": -3.0}
    cpu_batch, cpu_t = core.preprocess_batch(hosts, 320, 480, **kwargs)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        frames = [cupy.asarray(h) for h in hosts]  # copies queued on `stream`
        out = cupy.full((2, 3, 320, 480), 7.0, cupy.float32)  # a fill queued on `stream`
        assert out.__cuda_array_interface__["stream"] == stream.ptr
        transforms = core.cuda_preprocess_batch(frames, out, **kwargs)
        crops = cupy.full((2, 112, 96, 3), 3, cupy.uint8)
        matrices = np.array([[[0.8, 0.2, 100.3], [-0.2, 0.8, 50.7], [0, 0, 1]]] * 2)
        core.cuda_warp_batch(frames, np.array([0, 1], np.int32), matrices, 112, 96, out=crops)
    np.testing.assert_array_equal(transforms, cpu_t)
    assert np.abs(cupy.asnumpy(out) - cpu_batch).max() <= 0.5 + 1e-3
    cpu_crops = core.warp_batch(hosts, np.array([0, 1], np.int32), matrices, 112, 96)
    assert np.abs(cupy.asnumpy(crops).astype(int) - cpu_crops).max() <= 1


class HostMemory:
    """Pageable host memory behind __cuda_array_interface__ (a producer's mistake): a kernel reading it would
    fault and leave the GPU's context unusable for the whole process."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.__cuda_array_interface__ = {"shape": array.shape, "typestr": array.dtype.str, "strides": None,
                                         "data": (array.ctypes.data, False), "version": 3}


def test_kernels_refuse_memory_a_kernel_cannot_use(face_stills: list[np.ndarray]) -> None:
    frame = upload(face_stills[0], 0)
    out = BufferCache(0).view("input", (1, 3, 64, 64), np.float32)
    with pytest.raises(kuzet.InvalidArgument, match="image 0 is in host memory"):
        core.cuda_preprocess_batch([HostMemory(face_stills[0])], out)
    with pytest.raises(kuzet.InvalidArgument, match="out is in host memory"):
        core.cuda_preprocess_batch([frame], HostMemory(np.zeros((1, 3, 64, 64), np.float32)))
    with pytest.raises(kuzet.InvalidArgument, match="image 0 is in host memory"):
        core.cuda_warp_batch([HostMemory(face_stills[0])], np.zeros(1, np.int32), np.eye(3)[None], 8, 8)
    with pytest.raises(kuzet.InvalidArgument, match="is on cuda:0, but this call runs on cuda:7"):
        core.cuda_warp_batch([frame], np.zeros(1, np.int32), np.eye(3)[None], 8, 8, device="cuda:7")
    # nothing faulted: the device still works
    core.cuda_preprocess_batch([frame], out)
    expected, _ = core.preprocess_batch([face_stills[0]], 64, 64)
    assert np.abs(out.numpy() - expected).max() <= 1.0 + 1e-3


def test_kernels_read_pytorch_tensors_written_just_before(face_stills: list[np.ndarray]) -> None:
    """PyTorch's __cuda_array_interface__ (v2) names no stream: its writes are queued on its current stream (the
    legacy default stream), which kuzet's blocking kernel stream is ordered after."""
    torch = import_gpu_module("torch")
    host = face_stills[1]
    expected, _ = core.preprocess_batch([host], 320, 480)
    pinned = torch.from_numpy(host).pin_memory()
    for _ in range(3):
        frame = torch.empty(host.shape, dtype=torch.uint8, device="cuda:0")
        frame.fill_(0)
        frame.copy_(pinned, non_blocking=True)  # still in flight when the call starts
        out = torch.full((1, 3, 320, 480), 7.0, device="cuda:0")
        core.cuda_preprocess_batch([frame], out)
        assert np.abs(out.cpu().numpy() - expected).max() <= 1.0 + 1e-3


def test_face_pipeline_cpu_and_cuda_agree_on_stills(pipelines: tuple[FacePipeline, FacePipeline],
                                                    face_stills: list[np.ndarray]) -> None:
    cpu, gpu = pipelines
    if "astronaut" not in cpu.watchlist:  # type: ignore[operator]
        cpu.enrol("astronaut", [face_stills[2]])
    expected = cpu.process(face_stills)
    assert [len(f) for f in expected] == [6, 2, 1, 2, 6, 6, 2]
    assert expected[2][0].identity == "astronaut"
    assert_faces_agree(expected, gpu.process(face_stills))
    assert_faces_agree(expected, gpu.process([upload(f, 0) for f in face_stills]))  # frames already on the GPU


def test_face_pipeline_on_nvdec_frames(pipelines: tuple[FacePipeline, FacePipeline], data_dir: Path) -> None:
    cpu, gpu = pipelines
    path = data_dir / "faces" / "video" / "short_hamilton_clip.mp4"
    if not kuzet.cuda.is_available():
        with kuzet.VideoReader(path, device="cpu") as reader:  # (the GPU machine has no PyAV)
            frames = list(reader.get_frames([0, 100, 200]).data)
        assert_faces_agree(cpu.process(frames), gpu.process(frames))
        skip_now_without_gpu(f"NVDEC unavailable ({kuzet.cuda.nvdec_info()['reason']}); host frames agreed")
    with kuzet.cuda.CudaVideoReader(path) as reader:
        device_frames = [f.data for f in reader.get_frames([0, 100, 200])]
    expected = cpu.process([f.numpy() for f in device_frames])
    assert all(len(f) >= 1 for f in expected)
    assert_faces_agree(expected, gpu.process(device_frames))


def nv12_clip_frames(path: Path, picks: list[int]) -> tuple[list[np.ndarray], list[Any], dict[str, Any]]:
    """Frames `picks` as NV12 ((H*3/2, W)) decoded on the CPU and, where NVDEC works, by NVDEC (else the CPU
    frames uploaded), with the colour arguments that describe them."""
    with kuzet.VideoReader(path, device="cpu", layout="nv12") as reader:
        meta = reader.metadata
        host = list(reader.get_frames(picks).data.reshape(len(picks), meta.height * 3 // 2, meta.width))
    colour = {"pixel_format": "nv12", "color_space": meta.color_space, "full_range": meta.color_range == "pc"}
    if not kuzet.cuda.is_available():
        return host, [upload(f, 0) for f in host], colour
    with kuzet.cuda.CudaVideoReader(path, layout="nv12") as reader:
        device = [f.data.reshape(meta.height * 3 // 2, meta.width) for f in reader.get_frames(picks)]
    for h, d in zip(host, device, strict=True):
        np.testing.assert_array_equal(d.numpy(), h)  # NVDEC's NV12 is the CPU decoder's, bit for bit
    return host, device, colour


def test_pipelines_on_nvdec_nv12_frames(pipelines: tuple[FacePipeline, FacePipeline], data_dir: Path,
                                        model_dir: Path) -> None:
    """NVDEC's own NV12 frames go through the GPU face and plate pipelines without an RGB frame being made,
    and give what the CPU pipelines give on the same NV12 frames."""
    cpu, gpu = pipelines
    host, device, colour = nv12_clip_frames(data_dir / "faces" / "video" / "short_hamilton_clip.mp4", [0, 100, 200])
    expected = cpu.process(host, **colour)
    assert all(len(f) >= 1 for f in expected)
    assert_faces_agree(expected, gpu.process(device, **colour))
    host, device, colour = nv12_clip_frames(data_dir / "plates" / "video" / "license_plate_uk.mp4",
                                            list(range(0, 140, 5)))
    plates = PlatePipeline(PlateDetector(model_dir=model_dir, device="cuda"),
                           PlateReader(model_dir=model_dir, device="cuda"), formats=("uk",))
    cpu_plates = PlatePipeline(PlateDetector(model_dir=model_dir, device="cpu"),
                               PlateReader(model_dir=model_dir, device="cpu"), formats=("uk",))
    assert [[r.text for r in f] for f in plates.process(device, **colour)] == \
        [[r.text for r in f] for f in cpu_plates.process(host, **colour)]
    assert plates.update(device, [i / 6 for i in range(len(device))], **colour) == []
    assert [t.text for t in plates.flush()] == ["LS15EBC"]
    if not kuzet.cuda.is_available():
        skip_now_without_gpu(f"NVDEC unavailable ({kuzet.cuda.nvdec_info()['reason']}); uploaded NV12 frames agreed")


def test_plate_pipeline_cpu_and_cuda_read_the_same(data_dir: Path, model_dir: Path) -> None:
    images = [np.ascontiguousarray(cv2.cvtColor(cv2.imread(str(data_dir / "plates" / "images" / n)),
                                                cv2.COLOR_BGR2RGB)) for n in sorted(PLATE_STILLS)]
    def pipeline(device: str) -> PlatePipeline:
        return PlatePipeline(PlateDetector(model_dir=model_dir, device=device),
                             PlateReader(model_dir=model_dir, device=device), formats=("it",))

    cpu, gpu = pipeline("cpu"), pipeline("cuda")
    assert gpu.gpu_preprocessing and gpu.device == "cuda:0"
    expected = cpu.process(images)
    assert [sorted(r.text for r in reads) for reads in expected] == [PLATE_STILLS[n] for n in sorted(PLATE_STILLS)]
    for frames in (images, [upload(i, 0) for i in images]):
        got = gpu.process(frames)
        assert [[r.text for r in reads] for reads in got] == [[r.text for r in reads] for reads in expected]
        for ga, ea in zip(got, expected, strict=True):
            for g, e in zip(ga, ea, strict=True):
                assert np.abs(np.subtract(g.box, e.box)).max() <= 1.0
    # Every 5th frame of the UK street clip (the CPU tests' video), read as one batch.
    cap = cv2.VideoCapture(str(data_dir / "plates" / "video" / "license_plate_uk.mp4"))
    video = []
    for i in range(140):
        ok, bgr = cap.read()
        assert ok
        if i % 5 == 0:
            video.append(np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    expected = cpu.process(video)
    assert sum(map(len, expected)) >= 20
    assert [[r.text for r in reads] for reads in gpu.process(video)] == [[r.text for r in reads] for reads in expected]


def test_watchlist_gpu_search_equals_cpu() -> None:
    import_gpu_module("cupy")
    rng = np.random.default_rng(3)
    templates = rng.standard_normal((120_000, 128)).astype(np.float32)
    wl = Watchlist()
    wl.enrol_many([f"id{i}" for i in range(len(templates))], templates, model_id="m")
    queries = templates[rng.integers(0, len(templates), 300)] + 0.6 * rng.standard_normal((300, 128))
    cpu = wl.search(queries, top_k=5, threshold=0.2)
    gpu = wl.search(queries, top_k=5, threshold=0.2, device="cuda")
    assert all(cpu) and [len(r) for r in gpu] == [len(r) for r in cpu]
    assert [r[0].identity for r in gpu] == [r[0].identity for r in cpu]
    assert max(abs(g.similarity - c.similarity) for rg, rc in zip(gpu, cpu, strict=True)
               for g, c in zip(rg, rc, strict=True)) < 1e-4
    # Ranks 2-5 are near-random templates whose similarities can tie within float32 rounding, which cuBLAS and
    # the CPU BLAS may order differently: each rank's identity must be as similar (exactly, in float64) as the
    # CPU's at that rank, and most lists must be identical.
    unit = templates / np.linalg.norm(templates, axis=1, keepdims=True)
    exact = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ unit.astype(np.float64).T
    for q, (rg, rc) in enumerate(zip(gpu, cpu, strict=True)):
        for g, c in zip(rg, rc, strict=True):
            assert abs(exact[q, int(g.identity[2:])] - exact[q, int(c.identity[2:])]) < 1e-5, (q, g, c)
    same = sum([m.identity for m in rg] == [m.identity for m in rc] for rg, rc in zip(gpu, cpu, strict=True))
    assert same >= 0.95 * len(cpu), same
    half = wl.search(queries, top_k=1, threshold=0.2, device="cuda", dtype="float16")
    assert [r[0].identity for r in half] == [r[0].identity for r in cpu]


def test_fp16_embedder_keeps_real_embeddings(model_dir: Path, face_stills: list[np.ndarray], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The opt-in float16 embedder: on real faces, cosine >= 0.999 with the float32 one (or it is refused)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    detector = FaceDetector(model_dir=model_dir, device="cuda")
    fp32 = FaceEmbedder(model_dir=model_dir, device="cuda")
    fp16 = FaceEmbedder(model_dir=model_dir, device="cuda", fp16=True)
    assert fp16.model_id == fp32.model_id + ":fp16" and fp16.model is not fp32.model
    faces = detector.detect(face_stills)
    a, b = fp32.embed(face_stills, faces), fp16.embed(face_stills, faces)
    assert len(a) == 25 and float(np.min(np.sum(a * b, axis=1))) >= 0.999
    with pytest.raises(kuzet.ModelError, match="fp16"):  # a float32 watchlist refuses float16 embeddings
        Watchlist(model_id=fp32.model_id).search(b, model_id=fp16.model_id)


def test_multi_source_pipeline_on_the_gpu_equals_the_cpu(data_dir: Path, model_dir: Path) -> None:
    """kuzet.Pipeline with its tasks on CUDA: files and a live camera decoded by NVDEC into GPU memory
    (frames_device), the same detections and plate tracks as the CPU pipeline, every frame analysed."""
    from pipeline_helpers import serve_tcp_camera

    camera_stream = (data_dir / "conformance" / "mp4ff" / "hevc.265").read_bytes()
    camera, camera_thread = serve_tcp_camera([camera_stream] * 2)  # one connection per run
    sources = [str(data_dir / "faces" / "video" / "short_hamilton_clip.mp4"),
               str(data_dir / "plates" / "video" / "license_plate_uk.mp4"), camera]
    decoded_on: dict[tuple[str, str], tuple[str, bool]] = {}

    def run(device: str) -> tuple[str, dict[str, int], list[Any]]:
        pipeline = kuzet.Pipeline(("faces", "plates"), device=device, model_dir=model_dir, plate_formats=("uk",),
                                  every_n=5, live_buffer="block", reconnect=0)
        analysed, events = {}, []
        for e in pipeline.run(sources):
            if e.kind == "source_end":
                analysed[e.source] = e.data["analysed"]
                decoded_on[device, e.source] = (e.data["decoder"], e.data["gpu_frames"])
            elif e.kind in ("face", "plate_read", "plate"):
                events.append((e.source, e.kind, e.frame_index, e.data.get("text"), e.data["box"]))
            else:
                raise AssertionError(f"unexpected event {e.to_dict()}")
        return pipeline.frames_device, analysed, sorted(events, key=lambda ev: repr(ev[:4]))

    cpu_device, cpu_analysed, cpu_events = run("cpu")
    gpu_device, gpu_analysed, gpu_events = run("cuda")
    camera_thread.join(10)
    assert cpu_device == "cpu" and gpu_device == "cuda:0"
    assert gpu_analysed == cpu_analysed and min(cpu_analysed.values()) >= 10 and len(cpu_analysed) == 3
    assert ("license_plate_uk.mp4", "plate", None, "LS15EBC") in [ev[:4] for ev in cpu_events]
    assert [ev[:4] for ev in gpu_events] == [ev[:4] for ev in cpu_events]
    for g, c in zip(gpu_events, cpu_events, strict=True):
        assert np.abs(np.subtract(g[4], c[4])).max() <= 1.0, (g, c)
    assert {decoded_on["cpu", s] for s in cpu_analysed} == {("cpu", False)}
    if not kuzet.cuda.is_available():
        skip_now_without_gpu(f"NVDEC unavailable ({kuzet.cuda.nvdec_info()['reason']}); host frames agreed")
    assert {decoded_on["cuda", s] for s in gpu_analysed} == {("cuda:0", True)}  # NVDEC, frames kept on the GPU
