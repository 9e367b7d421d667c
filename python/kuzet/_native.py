"""Loads the compiled core with an error that says how to build it."""

from __future__ import annotations

import importlib
from typing import Any

try:
    core: Any = importlib.import_module("kuzet._core")
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "kuzet's native module kuzet._core is not built: install the package with `pip install .` "
        "(or run scripts/dev-build.sh for a development tree)"
    ) from exc

__all__ = ["core"]
