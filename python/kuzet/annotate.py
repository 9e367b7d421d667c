"""Draws detections on a frame so a person can look at what kuzet saw (used by `kuzet analyze --annotate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kuzet.errors import InvalidArgument

_COLOURS = {"face": (40, 220, 40), "face_match": (230, 40, 40), "plate": (40, 140, 255), "plate_hit": (255, 160, 0)}


def _label_and_colour(det: dict[str, Any]) -> tuple[str, tuple[int, int, int]]:
    if det.get("kind") in ("plate", "plate_read"):
        text = det.get("text") or "?"
        hit = det.get("hotlist")
        return (f"{text} HOTLIST" if hit else text), _COLOURS["plate_hit" if hit else "plate"]
    identity = det.get("identity")
    if identity:
        return f"{identity} {det.get('similarity', 0):.2f}", _COLOURS["face_match"]
    return f"face {det.get('score', 0):.2f}", _COLOURS["face"]


def draw_detections(image: np.ndarray, detections: list[dict[str, Any]]) -> np.ndarray:
    """A copy of an HxWx3 uint8 RGB image with each detection's box (or plate corners) and label drawn."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as exc:  # pragma: no cover - pillow is a dependency
        raise ImportError("drawing annotations needs Pillow: pip install pillow") from exc
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InvalidArgument(f"expected an HxWx3 uint8 image, got {image.dtype} {image.shape}")
    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    width = max(2, round(min(image.shape[:2]) / 300))
    font = ImageFont.load_default(size=max(12, round(min(image.shape[:2]) / 30)))
    for det in detections:
        label, colour = _label_and_colour(det)
        x1, y1, x2, y2 = (float(v) for v in det["box"])
        corners = det.get("corners")
        if corners is not None:
            draw.polygon([tuple(map(float, p)) for p in corners], outline=colour, width=width)
        else:
            draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        for x, y in det.get("landmarks") or []:
            draw.ellipse((x - width, y - width, x + width, y + width), fill=colour)
        _, _, text_w, text_h = draw.textbbox((0, 0), label, font=font)
        top = max(0.0, y1 - text_h - 6)
        left = max(0.0, min(x1, image.shape[1] - text_w - 4))  # keep the label inside the frame
        draw.rectangle((left, top, left + text_w + 4, top + text_h + 6), fill=colour)
        draw.text((left + 2, top + 2), label, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)


def save_png(image: np.ndarray, path: str | Path) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path
