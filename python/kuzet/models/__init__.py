"""Model registry, resolution (explicit path, KUZET_MODEL_DIR, user cache) and ONNX Runtime sessions."""

from kuzet.models.registry import REGISTRY, ModelSpec, get_spec
from kuzet.models.resolve import default_model_dirs, resolve_model
from kuzet.models.session import OrtModel, load_model

__all__ = ["REGISTRY", "ModelSpec", "get_spec", "default_model_dirs", "resolve_model", "OrtModel", "load_model"]
