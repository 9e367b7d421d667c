"""build_info(): what this kuzet was built with and what it can use on this machine."""

from __future__ import annotations

import json
import platform
from typing import Any

from kuzet._native import core


def _onnxruntime_info() -> dict[str, Any]:
    try:
        import onnxruntime as ort
    except ImportError as exc:  # onnxruntime is a dependency; report rather than fail
        return {"version": None, "providers": [], "error": str(exc)}
    return {"version": ort.__version__, "providers": ort.get_available_providers()}


def build_info() -> dict[str, Any]:
    """Versions, CUDA build and devices, NVDEC availability, FFmpeg, OpenSSL and ONNX Runtime providers."""
    info: dict[str, Any] = dict(core.native_build_info())
    info["python"] = platform.python_version()
    info["onnxruntime"] = _onnxruntime_info()
    nvdec = getattr(core, "nvdec_info", None)
    info["nvdec"] = dict(nvdec()) if nvdec is not None else {"available": False, "reason": "not built"}
    return info


def format_build_info(info: dict[str, Any]) -> str:
    return json.dumps(info, indent=2, sort_keys=True)
