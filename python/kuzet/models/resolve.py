"""Find a registered model's file on disk and check it is the exact file the registry names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from kuzet.errors import ModelError
from kuzet.models.registry import ModelSpec

_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, so each file is hashed once


def default_model_dirs() -> list[Path]:
    """KUZET_MODEL_DIR (os.pathsep-separated) first, then the user cache directory."""
    dirs = [Path(p) for p in os.environ.get("KUZET_MODEL_DIR", "").split(os.pathsep) if p]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kuzet" / "models"
    return [*dirs, cache]


def file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _verified[key] = h.hexdigest()
    return _verified[key]


def _check(path: Path, expected: str | None, what: str) -> Path:
    if expected is not None:
        actual = file_sha256(path)
        if actual != expected:
            raise ModelError(
                f"{what}: {path} has sha256 {actual}, expected {expected}: the file is corrupt or a "
                "different model; replace it with the registered file"
            )
    return path


def _find(relative: str, sha256: str | None, what: str, model_dir: str | os.PathLike[str] | None) -> Path:
    dirs = [Path(model_dir)] if model_dir is not None else default_model_dirs()
    for d in dirs:
        candidate = d / relative
        if candidate.is_file():
            return _check(candidate, sha256, what)
    searched = ", ".join(str(d) for d in dirs)
    raise ModelError(
        f"{what}: file {relative!r} not found in {searched}. Put the model there, set KUZET_MODEL_DIR "
        "to the directory holding it, or pass model_dir=/path"
    )


def resolve_model(spec: ModelSpec, *, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the spec's model file, searched in model_dir or the default directories, sha256-checked."""
    return _find(spec.file, spec.sha256, f"model {spec.name!r}", model_dir)


def resolve_extra(spec: ModelSpec, key: str, *, model_dir: str | os.PathLike[str] | None = None) -> Path:
    """A companion file of a model (e.g. an OCR alphabet), checked like the model itself."""
    relative, sha256 = spec.extra_files[key]
    return _find(relative, sha256, f"model {spec.name!r} ({key})", model_dir)
