"""The models kuzet knows by name: file, checksum, family (input/output contract), licence and source.

Weights are never shipped with kuzet nor fetched at run time: they are resolved from a model directory.
The families' contracts (input names, layouts, normalisation, outputs) are documented in docs/models.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kuzet.errors import ModelError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    file: str  # path relative to a model directory
    sha256: str | None  # None only for caller-supplied models with no known checksum
    role: str  # face_detector | face_embedder | plate_detector | plate_reader
    family: str  # yunet | scrfd | retinaface | arcface | y5fu | yolo | ppocr_rec
    licence: str
    source: str
    input_size: tuple[int, int] | None = None  # (height, width) when the graph is fixed-size
    extra_files: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (file, sha256)


_SPECS = [
    ModelSpec(
        "yunet", "face_detection/yunet_2023mar_640x640.onnx",
        "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        "face_detector", "yunet", "MIT", "OpenCV Zoo face_detection_yunet (2023mar)", (640, 640),
    ),
    ModelSpec(
        "yunet_s_dynamic", "face_detection/yunet_s_dynamic.onnx",
        "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3",
        "face_detector", "yunet", "Apache-2.0", "YuNet-s, dynamic HxW (multiples of 32)",
    ),
    ModelSpec(
        "retinaface_mnet025", "face_detection/retinaface_mnet025_dynamic.onnx",
        "13a69f2cb3012162ccce8466b1cd9e445ae1337ae641f31c90419e6179f13650",
        "face_detector", "retinaface", "MIT", "RetinaFace MobileNet-0.25",
    ),
    ModelSpec(
        "scrfd_500m", "face_detection/scrfd_500m_bnkps_dynamic.onnx",
        "6c6ba7956684796d7d582bfa1ab95dfe01dd280159f6bff1e23c1bc32bcc8431",
        "face_detector", "scrfd", "InsightFace: non-commercial research only", "InsightFace SCRFD-500M-bnkps",
    ),
    ModelSpec(
        "mobileface_v2", "face_recognition/mobileface_v2_256d.onnx",
        "32ddbe026b0ce229b2f72a924cfbe800314cfd8f8f03f4e645a49fdcf031a433",
        "face_embedder", "arcface", "MIT", "MobileFace V2, 256-d embedding", (112, 112),
    ),
    ModelSpec(
        "mobileface_v3", "face_recognition/mobileface_v3_256d.onnx",
        "31461ff0dcaeb5880c7906bce1cb1671cbc9a5b60d31ad7d312555f9040c60eb",
        "face_embedder", "arcface", "MIT", "MobileFace V3, 256-d embedding", (112, 112),
    ),
    ModelSpec(
        "hyperlpr3_320", "plate_detection/hyperlpr3_y5fu_320x.onnx",
        "2a985dc63a5cc947ec36d18503d6fc0fd54525b9dba17f2fe29a71e86b44456d",
        "plate_detector", "y5fu", "Apache-2.0", "HyperLPR3 y5fu plate detector, 320x320", (320, 320),
    ),
    ModelSpec(
        "hyperlpr3_640", "plate_detection/hyperlpr3_y5fu_640x.onnx",
        "0306de937471b87f56eb3f5620815e7e7058f8ab7428e0734fc64627cc4d716c",
        "plate_detector", "y5fu", "Apache-2.0", "HyperLPR3 y5fu plate detector, 640x640", (640, 640),
    ),
    ModelSpec(
        "ppocrv4_rec", "plate_ocr/ppocrv4_ch_rec.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        "plate_reader", "ppocr_rec", "Apache-2.0", "PaddleOCR PP-OCRv4 recogniser (ch)",
        extra_files={
            "dict": ("plate_ocr/ppocrv4_ch_dict.txt",
                     "a1c84d9bdb9ab29043c58896224d32941783eb821629618416dcb08f12886492"),
        },
    ),
]

REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _SPECS}

# Default model of each role.
DEFAULTS = {
    "face_detector": "yunet",
    "face_embedder": "mobileface_v2",
    "plate_detector": "hyperlpr3_320",
    "plate_reader": "ppocrv4_rec",
}


def get_spec(name: str) -> ModelSpec:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None
