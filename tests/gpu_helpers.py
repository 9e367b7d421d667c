"""Shared by the GPU-only tests: they run only with a CUDA build of kuzet that sees a device and
onnxruntime's CUDA execution provider, and otherwise skip saying which of these is missing.

On the GPU machine scripts/gpu-check.sh sets KUZET_REQUIRE_GPU=1: then nothing GPU-side may be missing, so these
tests never skip - they run, and a missing CUDA build, device, NVDEC, CUDA EP, CuPy or PyTorch fails them with
the real error instead of passing the check silently."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import onnxruntime as ort
import pytest

from kuzet._native import core

REQUIRE_GPU = os.environ.get("KUZET_REQUIRE_GPU") == "1"


def skip_without_gpu(condition: bool, reason: str) -> pytest.MarkDecorator:
    """skipif(condition), except under KUZET_REQUIRE_GPU=1, where the test runs (and fails if it must)."""
    return pytest.mark.skipif(condition and not REQUIRE_GPU, reason=reason)


def skip_now_without_gpu(reason: str) -> None:
    """pytest.skip(reason) inside a test; a failure under KUZET_REQUIRE_GPU=1."""
    if REQUIRE_GPU:
        pytest.fail(f"KUZET_REQUIRE_GPU=1 but {reason}")
    pytest.skip(reason)


def import_gpu_module(name: str) -> ModuleType:
    """pytest.importorskip(name), except under KUZET_REQUIRE_GPU=1, where a missing module is an error."""
    return importlib.import_module(name) if REQUIRE_GPU else pytest.importorskip(name)


CUDA = core.native_build_info()["cuda"]
REQUIRES_CUDA_AND_ORT_GPU = [
    skip_without_gpu(not CUDA["built"], reason="kuzet was built without CUDA"),
    skip_without_gpu(not CUDA["devices"], reason=f"no usable CUDA device ({CUDA.get('error')})"),
    skip_without_gpu("CUDAExecutionProvider" not in ort.get_available_providers(),
                     reason="onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"),
]
NVDEC = core.nvdec_info()
REQUIRES_NVDEC = skip_without_gpu(not NVDEC["available"], reason=f"no usable NVDEC: {NVDEC['reason']}")
