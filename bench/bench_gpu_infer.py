"""GPU inference: kuzet's face and plate pipelines on CUDA against the plain per-frame onnxruntime CUDA EP
reference, for 1080p input.

* Faces: frames/s at batch 1, 2, 4, ..., 64 of kuzet's FacePipeline(device="cuda") (letterbox kernel into the
  IOBinding input, alignment warp and embedder input on the GPU), fed 1080p frames already in GPU memory (as
  NVDEC delivers them) and host frames; baseline: bench_faces.ReferencePipeline (OpenCV/numpy per frame and per
  face) with its sessions on the CUDA EP, fed host frames one at a time.
* Plates: plates/s at batch 1, 2, 4, ..., 128 frames of PlatePipeline(device="cuda"); baseline:
  plates_reference.ReferencePlateReader with its sessions on the CUDA EP, per frame and per plate.
Both sides process the same frames; how far their results agree is printed (at 1080p the two resizers
differ, so a borderline face or plate may differ). Each figure is the best of 3.
Skips without a CUDA build of kuzet with a device, or without onnxruntime's CUDA EP.
Run: PYTHONPATH=python python3 -m pytest bench/bench_gpu_infer.py -s
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort
import pytest

import kuzet
from kuzet._native import core
from kuzet.models.device_buffers import upload

sys.path.insert(0, str(Path(__file__).parent))
from bench_faces import ReferencePipeline, enrolment_photos, real_frames  # noqa: E402
from memory import PeakGpuMemory, PeakRss  # noqa: E402
from plates_reference import ReferencePlateReader  # noqa: E402
from timing import best_of  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("KUZET_DATA_DIR", REPO.parent / "shared" / "data"))
MODELS = Path(os.environ.get("KUZET_MODEL_DIR", REPO.parent / "shared" / "models"))
CUDA_EP = ["CUDAExecutionProvider", "CPUExecutionProvider"]
FACE_BATCHES = (1, 2, 4, 8, 16, 32, 64)
PLATE_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128)
FRAMES = 128  # frames per measurement, every batch size


def gpu_problem() -> str | None:
    cuda = core.native_build_info()["cuda"]
    if not cuda["built"]:
        return "kuzet was built without CUDA"
    if not cuda["devices"]:
        return f"no usable CUDA device ({cuda.get('error')})"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return "onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
    return None


pytestmark = pytest.mark.skipif(gpu_problem() is not None, reason=str(gpu_problem()))


def to_1080p(frames: list[np.ndarray], count: int) -> list[np.ndarray]:
    sized = [np.ascontiguousarray(cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_LINEAR)) for f in frames]
    return [sized[i % len(sized)] for i in range(count)]



def peak_memory(ours: Callable[[], object], reference: Callable[[], object]) -> dict[str, float | None]:
    """Device and host memory each side takes beyond what the process held (its models are loaded and warm):
    one untimed run of each."""
    result: dict[str, float | None] = {}
    for side, run in (("kuzet", ours), ("reference", reference)):
        with PeakGpuMemory() as gpu, PeakRss() as host:
            run()
        result[f"{side}_gpu_peak_mb"] = gpu.growth_mb
        result[f"{side}_host_growth_mb"] = round(host.growth_mb, 1)
    return result


def sweep_batches(benchmark: Any, process: Callable[[list], object], device_frames: list, frames: list,
                  batches: tuple[int, ...], reference: Callable[[], object], t_ref: float, count: int,
                  unit: str) -> tuple[dict[str, tuple[float, float]], dict[str, float | None]]:
    """kuzet at each batch size, from frames in GPU memory and from host frames, against the reference's time
    `t_ref` for the same `count` items (frames or plates); then the fastest batch once more for
    pytest-benchmark, and each side's memory. Returns the rows ({batch: (from GPU, from host) items/s}) and
    the memory."""
    rows: dict[str, tuple[float, float]] = {}
    for batch in batches:
        t_dev = best_of(in_batches(process, device_frames, batch))
        t_host = best_of(in_batches(process, frames, batch))
        rows[str(batch)] = (count / t_dev, count / t_host)
        print(f"  batch {batch:3d}: kuzet {count / t_dev:7.1f} {unit}/s from GPU frames ({t_ref / t_dev:.2f}x), "
              f"{count / t_host:7.1f} from host frames ({t_ref / t_host:.2f}x)")
    best = int(max(rows, key=lambda b: rows[b][0]))
    benchmark.pedantic(in_batches(process, device_frames, best), rounds=1, iterations=1)
    memory = peak_memory(in_batches(process, device_frames, best), reference)
    print(f"  memory at batch {best}: {memory}")
    return rows, memory


def in_batches(process: Callable[[list], object], frames: list, batch: int) -> Callable[[], None]:
    def run() -> None:
        for a in range(0, len(frames), batch):
            process(frames[a:a + batch])
    return run


class CudaFaceReference(ReferencePipeline):
    """bench_faces' per-frame reference with its sessions on the CUDA EP (YuNet 640, MobileFace V2)."""

    def __init__(self) -> None:  # the sessions only; the rest as in ReferencePipeline
        so = ort.SessionOptions()
        so.log_severity_level = 3
        self.det = ort.InferenceSession(str(MODELS / "face_detection" / "yunet_2023mar_640x640.onnx"), so,
                                        providers=CUDA_EP)
        self.fitted = False
        self.rec = ort.InferenceSession(str(MODELS / "face_recognition" / "mobileface_v2_256d.onnx"), so,
                                        providers=CUDA_EP)
        self.names = []
        self.gallery = np.zeros((0, 256), np.float32)


class CudaPlateReference(ReferencePlateReader):
    """plates_reference's per-frame reader with its sessions on the CUDA EP."""

    def __init__(self) -> None:
        super().__init__(MODELS, threads=1)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        self.det = ort.InferenceSession(str(MODELS / "plate_detection/hyperlpr3_y5fu_320x.onnx"), so,
                                        providers=CUDA_EP)
        self.rec = ort.InferenceSession(str(MODELS / "plate_ocr/ppocrv4_ch_rec.onnx"), so, providers=CUDA_EP)


def test_faces_gpu_frames_per_second_1080p(benchmark) -> None:  # type: ignore[no-untyped-def]
    frames = to_1080p(real_frames(), FRAMES)
    pipeline = kuzet.FacePipeline(detector=kuzet.FaceDetector(model_dir=MODELS, device="cuda"),
                                  embedder=kuzet.FaceEmbedder(model_dir=MODELS, device="cuda"),
                                  watchlist=kuzet.Watchlist())
    assert pipeline.gpu_preprocessing
    reference = CudaFaceReference()
    for name, img in enrolment_photos().items():
        pipeline.enrol(name, [img])
        reference.enrol(name, img)
    device_frames = [upload(f, 0) for f in frames]  # as NVDEC hands them out
    ours, theirs = pipeline.process(frames), reference.process(frames)
    faces = sum(len(f) for f in ours)
    assert faces > 0
    same = sum([f.identity for f in fs] == [i for i, _ in ts] for fs, ts in zip(ours, theirs, strict=True))
    pipeline.process(device_frames[:64])  # warm-up: cuDNN algorithm search per input shape
    t_ref = best_of(lambda: reference.process(frames))
    print(f"\nfaces on {core.native_build_info()['cuda']['devices'][0]}, {FRAMES} 1080p frames, {faces} faces; "
          f"same faces and identities as the reference in {same}/{FRAMES} frames")
    print(f"  per-frame onnxruntime CUDA EP reference: {FRAMES / t_ref:.1f} frames/s")
    rows, memory = sweep_batches(benchmark, pipeline.process, device_frames, frames, FACE_BATCHES,
                                 lambda: reference.process(frames), t_ref, FRAMES, "frames")
    benchmark.extra_info.update(reference_fps=FRAMES / t_ref, faces=faces, kuzet_fps=rows, **memory)


def plate_frames_1080p() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DATA / "plates" / "video" / "license_plate_uk.mp4"))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return to_1080p(frames, FRAMES)


def test_plates_gpu_plates_per_second_1080p(benchmark) -> None:  # type: ignore[no-untyped-def]
    frames = plate_frames_1080p()
    pipeline = kuzet.PlatePipeline(kuzet.PlateDetector(model_dir=MODELS, device="cuda"),
                                   kuzet.PlateReader(model_dir=MODELS, device="cuda"))
    assert pipeline.gpu_preprocessing
    reference = CudaPlateReference()
    device_frames = [upload(f, 0) for f in frames]
    ours = [[r.raw_text for r in reads] for reads in pipeline.process(frames)]
    theirs = [reference.process(f) for f in frames]
    plates = sum(len(r) for r in ours)
    assert plates > 0
    same = sum(sorted(a) == sorted(b) for a, b in zip(ours, theirs, strict=True))
    t_ref = best_of(lambda: [reference.process(f) for f in frames])
    print(f"\nplates: {FRAMES} 1080p frames of the UK clip, {plates} plates; same raw reads as the reference in "
          f"{same}/{FRAMES} frames")
    print(f"  per-frame onnxruntime CUDA EP reference: {plates / t_ref:.1f} plates/s")
    rows, memory = sweep_batches(benchmark, pipeline.process, device_frames, frames, PLATE_BATCHES,
                                 lambda: [reference.process(f) for f in frames], t_ref, plates, "plates")
    benchmark.extra_info.update(reference_plates_per_s=plates / t_ref, plates=plates, kuzet_plates_per_s=rows,
                                **memory)
