"""Shared by the GPU-only tests: they run only with a CUDA build of kuzet that sees a device and
onnxruntime's CUDA execution provider, and otherwise skip saying which of these is missing."""

import onnxruntime as ort
import pytest

from kuzet._native import core

CUDA = core.native_build_info()["cuda"]
REQUIRES_CUDA_AND_ORT_GPU = [
    pytest.mark.skipif(not CUDA["built"], reason="kuzet was built without CUDA"),
    pytest.mark.skipif(not CUDA["devices"], reason=f"no usable CUDA device ({CUDA.get('error')})"),
    pytest.mark.skipif("CUDAExecutionProvider" not in ort.get_available_providers(),
                       reason="onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"),
]
