"""The GPU paths of the face and plate pipelines, as far as they can run without a GPU.

* Orchestration: the GPU path's Python (chunking, buffers, IOBinding calls, decoding, alignment, warps per
  width) is run on real images with the two CUDA kernels replaced by their CPU twins and the device buffers by
  host memory behind __cuda_array_interface__ ("HostCuda"); its results must equal the CPU path's.
* The watchlist's GPU search with a numpy stand-in for CuPy: same matches as the CPU search, chunked or not.
* Device selection: fallback warning, errors when CUDA is demanded, CUDA frames refused by a CPU pipeline,
  argument checks of the CUDA entry points (before anything touches a device).
The real kernels, CuPy and ONNX Runtime's CUDA EP are checked on the GPU machine: test_gpu_infer_gpu.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import subprocess
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest

import kuzet
import kuzet.faces.gpu
import kuzet.faces.watchlist
import kuzet.models.device_buffers
import kuzet.plates.gpu
from faces_helpers import load_rgb
from kuzet._native import core
from kuzet.faces import FaceDetector, FaceEmbedder, FacePipeline, Watchlist
from kuzet.faces.gpu import GpuDetector, GpuEmbedder
from kuzet.faces.gpu_watchlist import GpuTemplates
from kuzet.models import session
from kuzet.models.device_buffers import split_batch
from kuzet.plates import PlateDetector, PlatePipeline, PlateReader
from kuzet.plates.gpu import GpuPlateDetector

HAS_CUDA_EP = "CUDAExecutionProvider" in ort.get_available_providers()
needs_no_cuda_ep = pytest.mark.skipif(HAS_CUDA_EP, reason="onnxruntime has the CUDA EP here (GPU machine)")


# -- stand-ins for GPU memory and kernels ----------------------------------------------------------------------
class HostCuda:
    """Host memory behind __cuda_array_interface__: what the GPU path sees of a CUDA array."""

    def __init__(self, array: np.ndarray) -> None:
        self.host = array
        self.shape = array.shape

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        return {"shape": self.host.shape, "typestr": self.host.dtype.str, "data": (self.host.ctypes.data, False),
                "strides": self.host.strides, "version": 3, "stream": None}


def host_view(obj: Any) -> np.ndarray:
    """The numpy array at a (host) __cuda_array_interface__ address; only for HostCuda-backed objects."""
    cai = obj.__cuda_array_interface__
    dtype = np.dtype(cai["typestr"])
    shape = tuple(cai["shape"])
    strides = cai.get("strides") or tuple(int(np.prod(shape[i + 1:])) * dtype.itemsize for i in range(len(shape)))
    span = sum((d - 1) * s for d, s in zip(shape, strides, strict=True)) + dtype.itemsize
    buf = (ctypes.c_uint8 * span).from_address(cai["data"][0])
    return np.ndarray(shape, dtype, buffer=buf, strides=strides)


def host_images(images: Any) -> Any:
    if hasattr(images, "__cuda_array_interface__"):
        return host_view(images)
    return [host_view(i) for i in images]


class CpuKernels:
    """kuzet._core with the CUDA entry points done by their CPU twins (same arguments, same results)."""

    decode_faces = staticmethod(core.decode_faces)

    def __init__(self) -> None:
        self.calls: list[str] = []

    def cuda_preprocess_batch(self, images: Any, out: Any, *, channel_order: str = "rgb", mean: Any = (0.0,) * 3,
                              scale: Any = (1.0,) * 3, fit: str = "letterbox_center", pad_value: float = 0.0,
                              device: str = "cuda", **source: Any) -> np.ndarray:
        self.calls.append("preprocess " + source.get("pixel_format", "rgb"))
        o = host_view(out)
        _, transforms = core.preprocess_batch(host_images(images), o.shape[2], o.shape[3], channel_order=channel_order,
                                              mean=mean, scale=scale, fit=fit, pad_value=pad_value, out=o, **source)
        return transforms

    def cuda_warp_batch(self, images: Any, index: np.ndarray, matrices: np.ndarray, h: int, w: int, *,
                        border_value: int = 0, out: Any = None, device: str = "cuda", **source: Any) -> Any:
        self.calls.append("warp " + source.get("pixel_format", "rgb"))
        crops = core.warp_batch(host_images(images), index, matrices, h, w, border_value=border_value, **source)
        if out is None:
            return crops
        host_view(out)[...] = crops
        return out


class HostBuffers:
    def view(self, name: str, shape: tuple[int, ...], dtype: Any) -> HostCuda:
        return HostCuda(np.full(shape, 77, dtype))  # not zeros: every element must be written


@pytest.fixture
def kernels(monkeypatch: pytest.MonkeyPatch) -> CpuKernels:
    fake = CpuKernels()
    def upload(array: np.ndarray, device_id: int) -> HostCuda:
        fake.calls.append(f"upload {array.ndim}-d")
        return HostCuda(np.ascontiguousarray(array))

    for module in (kuzet.faces.gpu, kuzet.plates.gpu):
        monkeypatch.setattr(module, "core", fake)
        monkeypatch.setattr(module, "upload", upload)
        monkeypatch.setattr(module, "buffer_cache", lambda local, device_id: HostBuffers())
    monkeypatch.setattr(kuzet.models.device_buffers, "upload", upload)  # NV12 frames are uploaded there
    return fake


def bind_on_host(monkeypatch: pytest.MonkeyPatch, model: Any) -> None:
    """model.run_device reads the bound buffer (host memory here) like IOBinding would."""
    monkeypatch.setattr(model, "run_device", lambda batch: model.run(np.ascontiguousarray(host_view(batch))))


# -- faces --------------------------------------------------------------------------------------------------------
FACE_STILLS = ["insightface/t1.jpg", "ultralytics/zidane.jpg", "skimage/astronaut.png", "deepface/couple.jpg"]


@pytest.fixture(scope="module")
def face_stills(data_dir: Path) -> list[np.ndarray]:
    return [load_rgb(data_dir / "faces" / "images" / name) for name in FACE_STILLS]


@pytest.fixture
def face_models(model_dir: Path, monkeypatch: pytest.MonkeyPatch, kernels: CpuKernels) -> tuple[Any, ...]:
    """CPU detector/embedder, and twins of them whose GPU path is switched on (kernels on the host)."""
    cpu = (FaceDetector(model_dir=model_dir, device="cpu"), FaceEmbedder(model_dir=model_dir, device="cpu"))
    det = FaceDetector(model_dir=model_dir, device="cpu")
    emb = FaceEmbedder(model_dir=model_dir, device="cpu")
    det.gpu, emb.gpu = GpuDetector(det, 0), GpuEmbedder(emb, 0)
    det.gpu.batch_size, emb.gpu.batch_size = 3, 4  # several chunks of each on these stills
    bind_on_host(monkeypatch, det.model)
    bind_on_host(monkeypatch, emb.model)
    return cpu, (det, emb)


def assert_same_faces(a: list[list[kuzet.Face]], b: list[list[kuzet.Face]], *, embeddings: bool) -> None:
    assert [len(f) for f in a] == [len(f) for f in b]
    for fa, fb in zip(a, b, strict=True):
        for x, y in zip(fa, fb, strict=True):
            np.testing.assert_allclose(x.box, y.box, atol=0.05)
            np.testing.assert_allclose(x.landmarks, y.landmarks, atol=0.05)
            assert x.score == pytest.approx(y.score, abs=1e-4)
            if embeddings:
                assert float(np.dot(x.embedding, y.embedding)) >= 0.9999
                assert x.identity == y.identity


def test_gpu_face_path_equals_the_cpu_path(face_stills: list[np.ndarray], face_models: tuple[Any, ...],
                                           kernels: CpuKernels) -> None:
    (cpu_det, cpu_emb), (gpu_det, gpu_emb) = face_models
    watchlist = Watchlist()
    cpu = FacePipeline(detector=cpu_det, embedder=cpu_emb, watchlist=watchlist)
    astronaut = face_stills[2]
    cpu.enrol("astronaut", [astronaut])
    gpu = FacePipeline(detector=gpu_det, embedder=gpu_emb, watchlist=watchlist)
    assert gpu.gpu_preprocessing and not cpu.gpu_preprocessing
    expected = cpu.process(face_stills)
    assert sum(map(len, expected)) == 11 and expected[2][0].identity == "astronaut"
    assert_same_faces(gpu.process(face_stills), expected, embeddings=True)
    assert kernels.calls.count("preprocess rgb") == 2 + 3  # 2 detector chunks (batch 3), 3 embedder chunks (4)
    assert kernels.calls.count("warp rgb") == 3
    # Frames already in (stand-in) GPU memory, one by one or as one (N,H,W,3) array; a strided crop.
    assert_same_faces(gpu.process([HostCuda(f) for f in face_stills]), expected, embeddings=True)
    two = np.stack([face_stills[1], face_stills[1]])
    assert_same_faces(gpu.process(HostCuda(two)), cpu.process(two), embeddings=True)
    crop = face_stills[0][10:300, 20:500]
    assert_same_faces(gpu.process([HostCuda(crop)]), cpu.process([crop]), embeddings=True)
    # The detector and embedder APIs take the same frames.
    assert_same_faces(gpu_det.detect([HostCuda(f) for f in face_stills]), cpu_det.detect(face_stills),
                      embeddings=False)
    faces = cpu_det.detect(face_stills)
    np.testing.assert_allclose(gpu_emb.embed(face_stills, faces), cpu_emb.embed(face_stills, faces), atol=1e-4)
    assert gpu_emb.embed(face_stills[3:], [[]]).shape == (0, cpu_emb.dim)
    assert gpu.process([]) == []


def test_detector_and_embedder_on_different_gpus_take_host_frames(face_stills: list[np.ndarray],
                                                                 face_models: tuple[Any, ...], kernels: CpuKernels,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # frames kept on the detector's GPU could not be read by the embedder's kernels on another GPU
    (cpu_det, cpu_emb), (gpu_det, gpu_emb) = face_models
    monkeypatch.setattr(gpu_emb, "gpu", GpuEmbedder(gpu_emb, 1))
    split = FacePipeline(detector=gpu_det, embedder=gpu_emb)
    assert not split.gpu_preprocessing
    expected = FacePipeline(detector=cpu_det, embedder=cpu_emb).process(face_stills[:3])
    assert_same_faces(split.process(face_stills[:3]), expected, embeddings=True)


def test_gpu_face_path_rejects_bad_frames(face_models: tuple[Any, ...]) -> None:
    _, (gpu_det, gpu_emb) = face_models
    gpu = FacePipeline(detector=gpu_det, embedder=gpu_emb)
    with pytest.raises(kuzet.InvalidArgument, match=r"images\[1\].*uint8"):
        gpu.process([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(kuzet.InvalidArgument, match="images"):
        gpu.process("frame.jpg")  # type: ignore[arg-type]
    with pytest.raises(kuzet.InvalidArgument, match=r"images\[1\]: expected an HxWx3 CUDA image"):
        gpu_det.detect([HostCuda(np.zeros((8, 8, 3), np.uint8)), HostCuda(np.zeros((8, 8), np.uint8))])
    with pytest.raises(kuzet.InvalidArgument, match=r"images\[0\]: malformed __cuda_array_interface__"):
        gpu_det.detect([SimpleNamespace(__cuda_array_interface__={"typestr": "|u1"})])


def nv12_frames(path: Path, picks: list[int]) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Frames `picks` of a clip as decoded NV12 ((H*3/2, W) each) and the colour arguments that describe them."""
    with kuzet.VideoReader(path, device="cpu", layout="nv12") as reader:
        meta = reader.metadata
        frames = list(reader.get_frames(picks).data.reshape(len(picks), meta.height * 3 // 2, meta.width))
    return frames, {"pixel_format": "nv12", "color_space": meta.color_space, "full_range": meta.color_range == "pc"}


def test_gpu_face_path_takes_nv12_frames(data_dir: Path, face_models: tuple[Any, ...], kernels: CpuKernels) -> None:
    """NV12 frames (NVDEC's own output) on the GPU path: host ones uploaded as NV12, CUDA ones used in place,
    one by one or as an (N, H*3/2, W) array; the kernels convert the colour (pixel_format passed on) and the
    faces equal the CPU path's on the same NV12 frames."""
    (cpu_det, cpu_emb), (gpu_det, gpu_emb) = face_models
    frames, colour = nv12_frames(data_dir / "faces/video/short_hamilton_clip.mp4", [0, 10, 20, 30])
    cpu = FacePipeline(detector=cpu_det, embedder=cpu_emb)
    gpu = FacePipeline(detector=gpu_det, embedder=gpu_emb)
    expected = cpu.process(frames, **colour)
    assert all(len(f) >= 1 for f in expected)  # a real face in each of these frames
    assert_same_faces(gpu.process(frames, **colour), expected, embeddings=True)
    assert kernels.calls.count("upload 2-d") == len(frames)  # uploaded as NV12 (half the bytes of RGB)
    # The detector's letterbox (2 chunks of 3) and the alignment warps read NV12; the embedder's input
    # kernel reads the aligned crops, which are RGB.
    assert kernels.calls.count("preprocess nv12") == 2 and "warp nv12" in kernels.calls
    assert "warp rgb" not in kernels.calls
    kernels.calls.clear()
    on_device = [HostCuda(f) for f in frames]
    assert_same_faces(gpu.process(on_device, **colour), expected, embeddings=True)
    assert_same_faces(gpu.process(HostCuda(np.stack(frames)), **colour), expected, embeddings=True)
    assert_same_faces(gpu_det.detect(on_device, **colour), cpu_det.detect(frames, **colour), embeddings=False)
    assert not any(c.startswith("upload") for c in kernels.calls)
    with pytest.raises(kuzet.InvalidArgument, match=r"images\[0\]: expected an NV12 \(H\*3/2, W\) CUDA image"):
        gpu_det.detect([HostCuda(np.zeros((12, 8, 3), np.uint8))], **colour)
    with pytest.raises(kuzet.InvalidArgument, match="reshape"):
        gpu.process([frames[0].ravel()], **colour)  # a flat host frame: the hint to reshape it
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format"):
        gpu.process(frames, pixel_format="yuv")


# -- plates -------------------------------------------------------------------------------------------------------
PLATE_STILLS = ["yolov4_custom_functions/car.jpg", "yolov4_custom_functions/car3.jpg", "parkpow/demo.jpg"]


def plate_pipelines(model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                    formats: str) -> tuple[PlatePipeline, PlatePipeline]:
    """A CPU plate pipeline, and one whose detector takes the GPU path (kernels on the host), same reader."""
    reader = PlateReader(model_dir=model_dir, device="cpu")
    cpu = PlatePipeline(PlateDetector(model_dir=model_dir, device="cpu"), reader, formats=(formats,))
    det = PlateDetector(model_dir=model_dir, device="cpu")
    det.gpu = GpuPlateDetector(det, 0)
    bind_on_host(monkeypatch, det.model)
    gpu = PlatePipeline(det, reader, formats=(formats,))
    assert gpu.gpu_preprocessing and not cpu.gpu_preprocessing
    return cpu, gpu


def assert_same_reads(got: list[list[kuzet.PlateRead]], expected: list[list[kuzet.PlateRead]]) -> None:
    assert [[r.text for r in reads] for reads in got] == [[r.text for r in reads] for reads in expected]
    for ga, ea in zip(got, expected, strict=True):
        for g, e in zip(ga, ea, strict=True):
            np.testing.assert_allclose(g.box, e.box, atol=0.05)
            np.testing.assert_allclose(g.char_confidences, e.char_confidences, atol=1e-3)


def test_gpu_plate_path_equals_the_cpu_path(data_dir: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                            kernels: CpuKernels) -> None:
    images = [cv2.cvtColor(cv2.imread(str(data_dir / "plates" / "images" / n)), cv2.COLOR_BGR2RGB)
              for n in PLATE_STILLS]
    cpu, gpu = plate_pipelines(model_dir, monkeypatch, "it")
    expected = cpu.process(images)
    assert [sorted(r.text for r in reads) for reads in expected] == [["FMA6383"], ["VODKAA"], ["BY649AG", "ZA834CO"]]
    for frames in (images, [HostCuda(np.ascontiguousarray(i)) for i in images]):
        assert_same_reads(gpu.process(frames), expected)
    assert "warp rgb" in kernels.calls and "preprocess rgb" in kernels.calls
    with pytest.raises(kuzet.InvalidArgument, match="one CUDA image"):
        gpu.process(HostCuda(np.ascontiguousarray(images[0])))  # type: ignore[arg-type]
    assert gpu.update([images[0]], [0.0]) == [] and [t.text for t in gpu.flush()] == ["FMA6383"]


def test_gpu_plate_path_takes_nv12_frames(data_dir: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                          kernels: CpuKernels) -> None:
    """NV12 frames of the UK clip on the GPU path (uploaded, or in place as CUDA arrays): detected and
    rectified by the kernels with the frames' colour conversion, read as on the CPU path, one track LS15EBC."""
    frames, colour = nv12_frames(data_dir / "plates/video/license_plate_uk.mp4", list(range(100, 140, 4)))
    cpu, gpu = plate_pipelines(model_dir, monkeypatch, "uk")
    expected = cpu.process(frames, **colour)
    assert sum(map(len, expected)) >= len(frames) - 1  # the Mercedes' plate in (almost) every frame
    for batch in (frames, [HostCuda(f) for f in frames], HostCuda(np.stack(frames))):
        assert_same_reads(gpu.process(batch, **colour), expected)
    assert kernels.calls.count("upload 2-d") == len(frames)  # the host batch only, uploaded as NV12
    assert "preprocess nv12" in kernels.calls and "warp nv12" in kernels.calls
    assert not any(c.endswith("rgb") for c in kernels.calls)
    assert gpu.update(frames, [i / 30 for i in range(len(frames))], **colour) == []
    assert [t.text for t in gpu.flush()] == ["LS15EBC"]


# -- watchlist ----------------------------------------------------------------------------------------------------
class NumpyAsCupy(SimpleNamespace):
    """The part of CuPy's API GpuTemplates uses, done by numpy."""

    def __init__(self) -> None:
        class Device:
            def __init__(self, index: int) -> None:
                assert index == 0

            def __enter__(self) -> None:
                return None

            def __exit__(self, *exc: object) -> None:
                return None

        super().__init__(float32=np.float32, asarray=np.asarray, matmul=np.matmul, partition=np.partition,
                         nonzero=np.nonzero, asnumpy=np.asarray, cuda=SimpleNamespace(Device=Device))


def random_watchlist(n: int, dim: int = 128, seed: int = 0) -> tuple[Watchlist, np.ndarray]:
    rng = np.random.default_rng(seed)
    templates = rng.standard_normal((n, dim)).astype(np.float32)
    wl = Watchlist()
    wl.enrol_many([f"id{i}" for i in range(n)], templates, model_id="m")
    queries = templates[rng.integers(0, n, 40)] + 0.6 * rng.standard_normal((40, dim)).astype(np.float32)
    return wl, queries


def test_watchlist_gpu_search_logic_equals_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kuzet.faces.gpu_watchlist, "import_cupy", NumpyAsCupy)
    wl, queries = random_watchlist(100_000)
    cpu = wl.search(queries, top_k=5, threshold=0.2)
    assert all(len(m) >= 1 for m in cpu)  # each noisy copy finds its identity
    assert wl.search(queries, top_k=5, threshold=0.2, device="cuda") == cpu
    assert wl._gpu is not None and isinstance(wl._gpu[1], GpuTemplates) and wl._gpu[1].matrix.shape == (100_000, 128)
    half = wl.search(queries, top_k=1, threshold=0.2, device="cuda:0", dtype="float16")
    assert [m[0].identity for m in half] == [m[0].identity for m in cpu]
    assert max(abs(h[0].similarity - c[0].similarity) for h, c in zip(half, cpu, strict=True)) < 2e-3
    wl.enrol("late", queries[0], model_id="m")  # the GPU copy follows enrolment
    assert wl.search(queries[:1], device="cuda")[0][0].identity == "late"


def test_watchlist_query_blocks_and_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    from kuzet.faces.watchlist import query_blocks

    assert query_blocks(10, 1 << 20) == [(0, 10)]  # 256 MiB of float32 similarities: 64 queries at 1Mi
    assert query_blocks(200, 1 << 20) == [(0, 64), (64, 128), (128, 192), (192, 200)]
    assert query_blocks(3, 10**10) == [(0, 1), (1, 2), (2, 3)]  # at least one query per block
    assert query_blocks(0, 5) == []
    wl, queries = random_watchlist(500, seed=1)
    whole = wl.search(queries, top_k=3, threshold=-1.0)
    small_blocks = functools.partial(query_blocks, budget_bytes=4 * 500 * 7)
    monkeypatch.setattr(kuzet.faces.watchlist, "query_blocks", small_blocks)
    assert wl.search(queries, top_k=3, threshold=-1.0) == whole  # 6 blocks of 7 queries, same results
    same = np.ones((3, 4), np.float32)
    ties = Watchlist()
    ties.enrol_many(["c", "a", "b"], same, model_id="m")
    ties.enrol("d", np.array([1, 1, 1, -1], np.float32), model_id="m")
    for device in ("cpu", "cuda"):
        monkeypatch.setattr(kuzet.faces.gpu_watchlist, "import_cupy", NumpyAsCupy)
        got = ties.search(np.ones(4, np.float32), top_k=4, threshold=0.4, device=device)[0]
        assert [m.identity for m in got] == ["c", "a", "b", "d"]  # ties in enrolment order, then 0.5
        assert ties.search(np.ones(4, np.float32), top_k=4, threshold=0.6, device=device)[0] == got[:3]


def test_watchlist_gpu_search_arguments() -> None:
    wl, queries = random_watchlist(10)
    with pytest.raises(kuzet.InvalidArgument, match="device"):
        wl.search(queries, device="gpu")
    with pytest.raises(kuzet.InvalidArgument, match="float32 only"):
        wl.search(queries, dtype="float16")
    with pytest.raises(kuzet.InvalidArgument, match="dtype"):
        wl.search(queries, device="cuda", dtype="int8")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(kuzet.KuzetError, match="CuPy"):
            wl.search(queries, device="cuda")


# -- device selection ---------------------------------------------------------------------------------------------
@needs_no_cuda_ep
def test_cuda_demanded_without_the_cuda_ep_is_an_error(model_dir: Path) -> None:
    with pytest.raises(kuzet.ModelError, match="CUDAExecutionProvider"):
        FacePipeline(device="cuda", detector=None, embedder=FaceEmbedder(model_dir=model_dir, device="cpu"))
    with pytest.raises(kuzet.ModelError, match="CUDAExecutionProvider"):
        PlatePipeline(device="cuda:0", reader=PlateReader(model_dir=model_dir, device="cpu"))


@needs_no_cuda_ep
def test_auto_falls_back_to_the_cpu_with_a_warning(model_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                                   face_stills: list[np.ndarray]) -> None:
    monkeypatch.setattr(session, "_cache", {})  # a fresh load warns
    with pytest.warns(RuntimeWarning, match="running on CPU.*CUDAExecutionProvider"):
        pipeline = FacePipeline(detector=FaceDetector(model_dir=model_dir), embedder=FaceEmbedder(model_dir=model_dir))
    assert pipeline.device == "cpu" and not pipeline.gpu_preprocessing
    with pytest.warns(RuntimeWarning, match="running on CPU"):
        plates = PlatePipeline(PlateDetector(model_dir=model_dir), PlateReader(model_dir=model_dir))
    assert plates.device == "cpu" and not plates.gpu_preprocessing
    assert len(pipeline.process([face_stills[2]])[0]) == 1
    with pytest.raises(kuzet.InvalidArgument, match="GPU memory.*runs on the CPU"):
        pipeline.process([HostCuda(face_stills[2])])
    with pytest.raises(kuzet.InvalidArgument, match="GPU memory.*runs on the CPU"):
        plates.process([HostCuda(face_stills[2])])
    for frames in ([HostCuda(face_stills[2])], HostCuda(face_stills[2])):  # the detectors alone, too
        with pytest.raises(kuzet.InvalidArgument, match="FaceDetector.detect: frames are in GPU memory"):
            pipeline.detector.detect(frames)
        with pytest.raises(kuzet.InvalidArgument, match="PlateDetector.detect: frames are in GPU memory"):
            plates.detector.detect(frames)


def test_model_on_cuda_without_cuda_kernels_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    model = SimpleNamespace(device="cuda:1")
    no_kernels = SimpleNamespace(native_build_info=lambda: {"cuda": {"built": False}})
    monkeypatch.setattr(kuzet.models.device_buffers, "core", no_kernels)
    with pytest.warns(RuntimeWarning, match="built without CUDA.*pre-processed on the CPU"):
        assert kuzet.models.device_buffers.kernels_for(model, "FaceDetector") is None  # type: ignore[arg-type]
    no_device = SimpleNamespace(native_build_info=lambda: {"cuda": {"built": True, "devices": [{}],
                                                                    "error": None}})
    monkeypatch.setattr(kuzet.models.device_buffers, "core", no_device)
    with pytest.warns(RuntimeWarning, match="sees no device 1 .no such device.*pre-processed on the CPU"):
        assert kuzet.models.device_buffers.kernels_for(model, "FaceDetector") is None  # type: ignore[arg-type]
    with_kernels = SimpleNamespace(native_build_info=lambda: {"cuda": {"built": True, "devices": [{}, {}]}})
    monkeypatch.setattr(kuzet.models.device_buffers, "core", with_kernels)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kuzet.models.device_buffers.kernels_for(model, "FaceDetector") == 1  # type: ignore[arg-type]
        assert kuzet.models.device_buffers.kernels_for(SimpleNamespace(device="cpu"), "x") is None  # type: ignore[arg-type]


def test_split_batch_addresses_each_frame() -> None:
    batch = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    frames = split_batch(HostCuda(batch))
    assert len(frames) == 2 and frames[1].shape == (4, 5, 3)
    np.testing.assert_array_equal(host_view(frames[1]), batch[1])
    one = HostCuda(batch[0])
    assert split_batch(one) == [one]
    contiguous = SimpleNamespace(__cuda_array_interface__={**HostCuda(batch).__cuda_array_interface__, "strides": None})
    np.testing.assert_array_equal(host_view(split_batch(contiguous)[1]), batch[1])  # strides implied (C order)


# -- argument checks of the CUDA entry points (they fail before any device is touched) ----------------------------
class FakeCuda:
    def __init__(self, shape: tuple[int, ...], typestr: str = "|u1", strides: Any = None, readonly: bool = False):
        self.__cuda_array_interface__ = {"shape": shape, "typestr": typestr, "data": (0x10000, readonly),
                                         "strides": strides, "version": 3}


@pytest.mark.parametrize(("images", "out", "message"), [
    ([np.zeros((4, 4, 3), np.uint8)], FakeCuda((1, 3, 8, 8), "<f4"), r"images\[0\]: expected a CUDA array"),
    ([FakeCuda((4, 4, 3), "<f4")], FakeCuda((1, 3, 8, 8), "<f4"), r"images\[0\]: expected dtype \|u1"),
    ([FakeCuda((4, 4, 4))], FakeCuda((1, 3, 8, 8), "<f4"), "HxWx3"),
    ([FakeCuda((4, 4, 3), strides=(12, 6, 1))], FakeCuda((1, 3, 8, 8), "<f4"), "not contiguous"),
    ([FakeCuda((0, 4, 3))], FakeCuda((1, 3, 8, 8), "<f4"), "empty"),
    (FakeCuda((2, 4, 4)), FakeCuda((2, 3, 8, 8), "<f4"), r"\(N,H,W,3\)"),
    ([FakeCuda((4, 4, 3))], FakeCuda((2, 3, 8, 8), "<f4"), "out must have shape"),
    ([FakeCuda((4, 4, 3))], FakeCuda((1, 3, 8, 8), "<f2"), "out: expected dtype <f4"),
    ([FakeCuda((4, 4, 3))], FakeCuda((1, 3, 8, 8), "<f4", readonly=True), "read-only"),
    ([FakeCuda((4, 4, 3))], FakeCuda((1, 3, 8, 8), "<f4", strides=(4, 4, 4, 4)), "C-contiguous"),
    ([FakeCuda((4, 4, 3))], np.zeros((1, 3, 8, 8), np.float32), "out: expected a CUDA array"),
])
def test_cuda_preprocess_batch_checks(images: Any, out: Any, message: str) -> None:
    with pytest.raises(kuzet.InvalidArgument, match=message):
        core.cuda_preprocess_batch(images, out)


def test_cuda_entry_point_options_and_warp_checks() -> None:
    img, out = [FakeCuda((4, 4, 3))], FakeCuda((1, 3, 8, 8), "<f4")
    for broken in ({"shape": (4, 4, 3), "typestr": "|u1"}, {"shape": "4x4", "typestr": "|u1", "data": (1, False)},
                   "not a dict"):
        bad = SimpleNamespace(__cuda_array_interface__=broken)
        with pytest.raises(kuzet.InvalidArgument, match=r"images\[0\]: malformed __cuda_array_interface__"):
            core.cuda_preprocess_batch([bad], out)
    for kwargs, message in [({"device": "cpu"}, "device"), ({"fit": "crop"}, "fit"),
                            ({"channel_order": "rgba"}, "channel_order"), ({"mean": (np.nan, 0, 0)}, "finite")]:
        with pytest.raises(kuzet.InvalidArgument, match=message):
            core.cuda_preprocess_batch(img, out, **kwargs)
    eye = np.eye(3)[None]
    idx = np.zeros(1, np.int32)
    for args, kwargs, message in [
        ((img, np.array([1], np.int32), eye, 8, 8), {}, "out of range for 1 images"),
        ((img, idx, np.eye(2)[None], 8, 8), {}, "matrices"),
        ((img, idx, eye, 0, 8), {}, "output size"),
        ((img, idx, eye, 8, 8), {"border_value": 256}, "border_value"),
        ((img, idx, eye, 8, 8), {"out": FakeCuda((1, 8, 8, 4))}, "out must have shape"),
        ((img, idx, eye, 8, 8), {"device": "cuda:x"}, "device"),
    ]:
        with pytest.raises(kuzet.InvalidArgument, match=message):
            core.cuda_warp_batch(*args, **kwargs)


@pytest.mark.skipif(bool(core.native_build_info()["cuda"]["devices"]), reason="a CUDA device is present")
def test_cuda_entry_points_without_a_device_raise() -> None:
    cuda = core.native_build_info()["cuda"]
    message = "built without CUDA" if not cuda["built"] else "CUDA"
    with pytest.raises(kuzet.KuzetError, match=message):
        core.cuda_preprocess_batch([FakeCuda((4, 4, 3))], FakeCuda((1, 3, 8, 8), "<f4"))
    with pytest.raises(kuzet.KuzetError, match=message):
        core.cuda_warp_batch([FakeCuda((4, 4, 3))], np.zeros(1, np.int32), np.eye(3)[None], 8, 8)


# -- opt-in float16 models (CUDA only; the conversion and the agreement check run anywhere) -----------------------
def test_fp16_copy_is_made_once_and_checked(model_dir: Path, tmp_path: Path) -> None:
    import onnx

    from kuzet.models.fp16 import half_precision_file, outputs_agree, probe_batch
    from kuzet.models.session import OrtModel

    embedder = FaceEmbedder(model_dir=model_dir, device="cpu")
    path = half_precision_file(embedder.model.path, folder=tmp_path)
    graph = onnx.load(str(path))
    fp16 = onnx.TensorProto.FLOAT16
    assert sum(i.data_type == fp16 for i in graph.graph.initializer) > 100  # the weights are float16
    assert [i.type.tensor_type.elem_type for i in (*graph.graph.input, *graph.graph.output)] == [1, 1]  # IO fp32
    stamp = path.stat().st_mtime_ns
    assert half_precision_file(embedder.model.path, folder=tmp_path) == path and path.stat().st_mtime_ns == stamp
    # The agreement check, on the CPU EP (which runs this float16 graph too): cosine >= 0.999 per item.
    half = OrtModel(embedder.model.spec, path, device="cpu")
    probe = probe_batch(embedder.model)
    assert probe.shape == (2, 3, 112, 112)
    full, reduced = embedder.model.run(probe), half.run(probe)
    assert outputs_agree(full, reduced)
    worse = {k: v + np.random.default_rng(1).normal(0, 0.5 * np.abs(v).mean(), v.shape) for k, v in full.items()}
    assert not outputs_agree(full, worse)
    with pytest.raises(kuzet.InvalidArgument, match="fp16=True needs the model on CUDA"):
        FaceEmbedder(model_dir=model_dir, device="cpu", fp16=True)
    with pytest.raises(kuzet.InvalidArgument, match="fp16=True needs the model on CUDA"):
        FaceDetector(model_dir=model_dir, device="cpu", fp16=True)


def test_device_buffers_reuse_grow_and_copy_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """BufferCache / upload / CudaView with ONNX Runtime's allocations made on the CPU instead of CUDA."""
    from kuzet.models.device_buffers import BufferCache, upload

    class OnHost:
        @staticmethod
        def ortvalue_from_shape_and_type(shape: list[int], dtype: Any, device: str, device_id: int) -> Any:
            assert device == "cuda" and device_id == 3
            return ort.OrtValue.ortvalue_from_shape_and_type(shape, dtype, "cpu", 0)

        @staticmethod
        def ortvalue_from_numpy(array: np.ndarray, device: str, device_id: int) -> Any:
            assert device == "cuda" and device_id == 3
            return ort.OrtValue.ortvalue_from_numpy(array, "cpu", 0)

    scopes: list[int] = []  # each allocation inside a device scope (onnxruntime switches the current device)

    def scope(device_id: int) -> Any:
        scopes.append(device_id)
        return contextlib.nullcontext()

    monkeypatch.setattr(kuzet.models.device_buffers, "ort", SimpleNamespace(OrtValue=OnHost))
    monkeypatch.setattr(kuzet.models.device_buffers, "core", SimpleNamespace(cuda_device_scope=scope))
    frame = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    view = upload(frame[:, 1:], 3)  # a strided array is made contiguous first
    assert view.__cuda_array_interface__ == {"shape": (5, 6, 3), "typestr": "|u1", "data": (view.ptr, False),
                                             "strides": None, "version": 3, "stream": None}
    np.testing.assert_array_equal(view.numpy(), frame[:, 1:])
    cache = BufferCache(3)
    a = cache.view("input", (2, 3, 4, 4), np.float32)
    host_view(a)[...] = 1.5
    b = cache.view("input", (1, 3, 4, 4), np.float32)  # smaller: the same memory
    assert b.ptr == a.ptr and b.nbytes == 192 and b.__cuda_array_interface__["typestr"] == "<f4"
    np.testing.assert_array_equal(b.numpy(), np.full((1, 3, 4, 4), 1.5, np.float32))
    c = cache.view("input", (4, 3, 4, 4), np.float32)  # larger: a new allocation
    assert c.nbytes == 768 and c.owner is not a.owner
    assert cache.view("crops", (1, 2, 2, 3), np.uint8).owner is not c.owner  # one buffer per purpose
    with pytest.raises(kuzet.InvalidArgument, match="empty dimension"):
        cache.view("input", (0, 3, 4, 4), np.float32)
    assert scopes == [3, 3, 3, 3]  # upload, and the three allocations (the reuse allocated nothing)

    class OutOfMemory(OnHost):
        @staticmethod
        def ortvalue_from_shape_and_type(shape: list[int], dtype: Any, device: str, device_id: int) -> Any:
            raise RuntimeError("CUDA failure 2: out of memory")

    monkeypatch.setattr(kuzet.models.device_buffers, "ort", SimpleNamespace(OrtValue=OutOfMemory))
    with pytest.raises(kuzet.KuzetError, match="cannot allocate 3072 bytes on cuda:3: CUDA failure 2: out of memory"):
        cache.view("input", (16, 3, 4, 4), np.float32)


def test_face_pipeline_searches_the_watchlist_where_it_should(face_stills: list[np.ndarray],
                                                              face_models: tuple[Any, ...],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (cpu_det, cpu_emb), (gpu_det, gpu_emb) = face_models
    watchlist = Watchlist()
    cpu = FacePipeline(detector=cpu_det, embedder=cpu_emb, watchlist=watchlist)
    cpu.enrol("astronaut", [face_stills[2]])
    expected = cpu.process(face_stills)
    searched_on: list[str] = []
    search = Watchlist.search

    def spy(self: Watchlist, queries: np.ndarray, **kw: Any) -> Any:
        searched_on.append(kw.get("device", "cpu"))
        return search(self, queries, **kw)

    monkeypatch.setattr(Watchlist, "search", spy)
    monkeypatch.setattr(kuzet.faces.gpu_watchlist, "import_cupy", NumpyAsCupy)
    gpu = FacePipeline(detector=gpu_det, embedder=gpu_emb, watchlist=watchlist)
    gpu.device = "cuda:0"  # the (host-bound) stand-in models report CUDA, as on a GPU machine
    cpu.process(face_stills[:1])
    gpu.process(face_stills[:1])  # "auto" and a small watchlist: the CPU search
    monkeypatch.setattr(kuzet.faces.pipeline, "GPU_WATCHLIST_MIN", 1)
    assert_same_faces(gpu.process(face_stills), expected, embeddings=True)  # now searched on the "GPU"
    forced = FacePipeline(detector=gpu_det, embedder=gpu_emb, watchlist=watchlist, watchlist_device="cuda")
    assert_same_faces(forced.process(face_stills), expected, embeddings=True)
    assert searched_on == ["cpu", "cpu", "cuda:0", "cuda"]
    monkeypatch.setattr(kuzet.faces.gpu_watchlist, "import_cupy", lambda: (_ for _ in ()).throw(
        kuzet.KuzetError("no CuPy")))
    assert gpu._search_device() == "cpu"  # "auto" without CuPy stays on the CPU
    with pytest.raises(kuzet.InvalidArgument, match="device"):
        FacePipeline(detector=cpu_det, embedder=cpu_emb, watchlist_device="gpu")


# -- the multi-source pipeline with frames in GPU memory ---------------------------------------------------------
class HostCudaReader:
    """kuzet.cuda.CudaVideoReader as the pipeline's readers open it, its frames in (stand-in) GPU memory.
    NVDEC "cannot decode" the sources in `refused` (known when the reader opens) and in `refused_late` (known
    at the first frame, as for a profile or size NVDEC turns down)."""

    refused: set[str] = set()
    refused_late: set[str] = set()
    opened: list[str] = []
    live: list[str] = []  # sources opened as live readers (buffer and reconnection)
    gpu_frames = True

    def __init__(self, source: str, *, device: str, layout: str, nvdec_fallback: bool = False,
                 **options: Any) -> None:
        assert device == "cuda:0" and layout == "rgb"
        self.device = device
        if source in self.refused:
            if not nvdec_fallback:
                raise kuzet.DeviceUnavailable(f"{source}: NVDEC cannot decode this stream (stand-in)")
            self.device = "cpu"  # decoded on the CPU, its frames uploaded by the reader
        self._reader = kuzet.VideoReader(source, device="cpu", layout="rgb", **options)
        self.source = source
        HostCudaReader.opened.append(source)
        if self._reader.live:
            HostCudaReader.live.append(source)

    @property
    def stats(self) -> Any:
        return self._reader.stats

    def read(self) -> Any:
        if self.source in self.refused_late:
            raise kuzet.DeviceUnavailable(f"{self.source}: NVDEC cannot decode this stream's profile (stand-in)")
        f = self._reader.read()
        return None if f is None else SimpleNamespace(index=f.index, pts=f.pts, data=HostCuda(f.data.copy()))

    def __iter__(self) -> Any:
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        self._reader.close()


def test_pipeline_keeps_nvdec_frames_in_gpu_memory(data_dir: Path, model_dir: Path, face_models: tuple[Any, ...],
                                                   kernels: CpuKernels, monkeypatch: pytest.MonkeyPatch) -> None:
    """With its face and plate tasks on a GPU, kuzet.Pipeline decodes files with NVDEC into GPU memory and hands
    those frames to the tasks (never copied to the host and back); a stream NVDEC refuses is decoded on the CPU
    and its frames uploaded. The events equal a CPU pipeline's on the same sources."""
    from kuzet.pipeline.builtin_tasks import FaceTask, PlateTask
    from kuzet.pipeline.pipeline import frames_device

    (cpu_det, cpu_emb), (gpu_det, gpu_emb) = face_models
    gpu_faces = FacePipeline(detector=gpu_det, embedder=gpu_emb)
    cpu_plates, gpu_plates = plate_pipelines(model_dir, monkeypatch, "uk")
    gpu_faces.device = gpu_plates.device = "cuda:0"  # the (host-bound) stand-in models report CUDA
    monkeypatch.setattr(kuzet.cuda, "CudaVideoReader", HostCudaReader)
    faces_clip = str(data_dir / "faces/video/short_hamilton_clip.mp4")
    plates_clip = str(data_dir / "plates/video/license_plate_uk.mp4")
    refused = str(data_dir / "faces/video/carphone_qcif.mp4")
    refused_late = str(data_dir / "faces/video/intel_asl_yes.mkv")
    monkeypatch.setattr(HostCudaReader, "refused", {refused})
    monkeypatch.setattr(HostCudaReader, "refused_late", {refused_late})
    monkeypatch.setattr(HostCudaReader, "opened", [])
    sources = [faces_clip, plates_clip, refused, refused_late]

    analysed: dict[str, int] = {}
    decoders: dict[str, tuple[str, bool]] = {}

    def summary(tasks: list[Any]) -> tuple[str, list[Any]]:
        # device="cpu": host frames decoded on the CPU (on a GPU machine "auto" would use NVDEC, 1 level apart)
        pipeline = kuzet.Pipeline(tasks, device="cpu", every_n=10)
        events = []
        for e in pipeline.run(sources):
            if e.kind == "source_end":
                analysed[e.source] = e.data["analysed"]
                decoders[e.source] = (e.data["decoder"], e.data["gpu_frames"])
            else:
                events.append((e.source, e.kind, e.frame_index, np.round(e.data.get("box", ()), 1).tolist(),
                               e.data.get("text")))
        return pipeline.frames_device, sorted(events, key=repr)

    cpu_faces = FacePipeline(detector=cpu_det, embedder=cpu_emb)
    on_cpu, expected = summary([FaceTask(cpu_faces), PlateTask(cpu_plates)])
    assert on_cpu == "cpu" and HostCudaReader.opened == []
    assert ("license_plate_uk.mp4", "plate", None, [], "LS15EBC") in [(s, k, i, [], t) for s, k, i, _, t in expected]
    assert any(k == "face" for s, k, *_ in expected if s == "carphone_qcif.mp4")
    analysed_on_cpu = dict(analysed)
    with pytest.warns(RuntimeWarning, match="intel_asl_yes.mkv: NVDEC cannot decode.*on the CPU from its start"):
        on_gpu, got = summary([FaceTask(gpu_faces), PlateTask(gpu_plates)])
    assert analysed == analysed_on_cpu  # every frame of every source, whichever reader decoded it
    assert decoders == {"short_hamilton_clip.mp4": ("cuda:0", True), "license_plate_uk.mp4": ("cuda:0", True),
                        "carphone_qcif.mp4": ("cpu", False), "intel_asl_yes.mkv": ("cpu", False)}
    assert on_gpu == "cuda:0" and sorted(HostCudaReader.opened) == sorted([faces_clip, plates_clip, refused_late])
    assert [e[:3] + e[4:] for e in got] == [e[:3] + e[4:] for e in expected]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g[3], e[3], atol=0.2)
    # Only the refused sources' frames were uploaded (RGB frames), each once for both tasks.
    refused_frames = analysed["carphone_qcif.mp4"] + analysed["intel_asl_yes.mkv"]
    assert analysed["carphone_qcif.mp4"] >= 10 and analysed["intel_asl_yes.mkv"] >= 5
    assert kernels.calls.count("upload 3-d") == refused_frames and "upload 2-d" not in kernels.calls
    # A caller's own task, or a caller's own frame source, keeps the frames on the host.
    assert frames_device([FaceTask(gpu_faces), SimpleNamespace(name="mine")]) == "cpu"
    assert kuzet.Pipeline([FaceTask(gpu_faces)], open_source=lambda url: iter(())).frames_device == "cpu"


@pytest.mark.timeout(120)
def test_pipeline_keeps_live_frames_in_gpu_memory(data_dir: Path, face_models: tuple[Any, ...], kernels: CpuKernels,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Live sources too are decoded by NVDEC into GPU memory, by a live CudaVideoReader (buffer, reconnection)
    whose frames are never copied to the host and back; where NVDEC cannot decode a camera, that same reader
    (one connection) decodes on the CPU and hands out its frames on the GPU (nvdec_fallback): the pipeline
    uploads nothing. Every decoded frame is accounted for."""
    from kuzet.pipeline.builtin_tasks import FaceTask
    from pipeline_helpers import serve_tcp_camera

    _, (gpu_det, gpu_emb) = face_models
    faces = FacePipeline(detector=gpu_det, embedder=gpu_emb)
    faces.device = "cuda:0"  # the (host-bound) stand-in models report CUDA
    monkeypatch.setattr(kuzet.cuda, "CudaVideoReader", HostCudaReader)
    clip = data_dir / "faces/video/short_hamilton_clip.mp4"
    with kuzet.VideoReader(clip, device="cpu") as reader:
        frames = reader.metadata.frame_count
    assert frames
    # mp4 over TCP cannot seek back to its index: serve it as MPEG-TS, as a camera would
    ts = subprocess.run(["ffmpeg", "-v", "error", "-i", str(clip), "-c", "copy", "-bsf:v", "h264_mp4toannexb",
                         "-f", "mpegts", "pipe:"], capture_output=True, check=True, timeout=60).stdout
    on_gpu, on_gpu_thread = serve_tcp_camera([ts])
    refused, refused_thread = serve_tcp_camera([ts])  # one connection: the reader falls back, not the pipeline
    monkeypatch.setattr(HostCudaReader, "refused", {refused})
    monkeypatch.setattr(HostCudaReader, "refused_late", set())
    monkeypatch.setattr(HostCudaReader, "opened", [])
    monkeypatch.setattr(HostCudaReader, "live", [])
    pipeline = kuzet.Pipeline([FaceTask(faces)], device="cpu", every_n=10, live_buffer="block", reconnect=0,
                              read_timeout=10)  # reconnect=0: the camera ends when its stream does
    assert pipeline.frames_device == "cuda:0"
    events = list(pipeline.run([on_gpu, refused]))
    on_gpu_thread.join(10)
    refused_thread.join(10)
    ends = {e.source: e.data for e in events if e.kind == "source_end"}
    gpu_name, cpu_name = (url.rsplit("/", 1)[-1] for url in (on_gpu, refused))
    assert sorted(HostCudaReader.live) == sorted([on_gpu, refused])  # both live GPU readers, opened once each
    assert (ends[gpu_name]["decoder"], ends[gpu_name]["gpu_frames"]) == ("cuda:0", True)
    assert (ends[cpu_name]["decoder"], ends[cpu_name]["gpu_frames"]) == ("cpu", True)
    for end in ends.values():
        assert end["error"] is None and end["dropped"] == 0
        assert end["decoded"] == frames == end["analysed"] + end["sampled_out"] and end["analysed"] >= 3
    assert any(e.kind == "face" and e.source == gpu_name for e in events)
    assert any(e.kind == "face" and e.source == cpu_name for e in events)
    assert "upload 3-d" not in kernels.calls  # the readers hand out GPU frames: the pipeline uploads nothing


def test_live_sources_under_the_evidence_task_are_read_into_gpu_memory(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """With the evidence task, a live camera's recording reader is the one reader of it: on a GPU pipeline it
    hands out GPU frames (gpu_frames, NVDEC or the CPU and an upload), so it is never opened twice."""
    from kuzet.evidence import generate_keypair
    from kuzet.pipeline.builtin_tasks import EvidenceTask
    from kuzet.pipeline.live_evidence import RecordingReader
    from kuzet.pipeline.readers import recording_opener
    from kuzet.pipeline.source_worker import Sampling

    opened: list[dict[str, Any]] = []
    evidence = EvidenceTask(tmp_path, generate_keypair())
    monkeypatch.setattr(evidence, "open_live", lambda source, url, **options: opened.append(options))
    args = (evidence, "cam", "auto", 5.0, "block", 2, "skip")
    recording_opener(*args, threads=1, sampling=Sampling(every_n=1, fps=None), frames_device="cuda:1")("rtsp://x")
    recording_opener(*args, threads=1, sampling=Sampling(every_n=1, fps=None))("rtsp://x")
    assert opened[0]["device"] == "cuda:1" and opened[0]["gpu_frames"] is True
    assert opened[1]["device"] == "auto" and "gpu_frames" not in opened[1]
    with pytest.raises(kuzet.DeviceUnavailable, match="cannot be delivered in the memory of cuda:99"):
        RecordingReader("tcp://127.0.0.1:9", None, device="cuda:99", timeout=1.0, threads=1, errors="skip",
                        buffer="block", reconnect=0, gpu_frames=True)


def test_annotator_copies_gpu_frames_to_the_host(tmp_path: Path) -> None:
    from kuzet.commands.annotator import BestFrameAnnotator
    from kuzet.pipeline import FrameItem

    class DeviceFrame(HostCuda):
        def numpy(self) -> np.ndarray:
            return self.host.copy()

    frame = np.full((40, 60, 3), 90, np.uint8)
    annotator = BestFrameAnnotator(tmp_path)
    annotator(FrameItem("cam", 3, 0.1, DeviceFrame(frame)),
              [{"kind": "face", "box": [10, 10, 30, 30], "score": 0.9, "identity": None}])
    frame[:] = 0  # the decoder reuses the frame's memory: the annotator kept its own copy
    [path] = annotator.write()
    assert path.name == "cam.frame3.png" and path.stat().st_size > 0
