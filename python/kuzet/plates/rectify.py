"""Perspective rectification of plates from their 4 corners: inverse homographies for `warp_batch`."""

from __future__ import annotations

import numpy as np

# Share of the plate height given to each line of a double-row plate. The lines overlap a little so a
# character straddling the split is whole in at least one of them (checked on real two-row plates).
TOP_LINE = (0.0, 0.42)
BOTTOM_LINE = (0.33, 1.0)
FULL = (0.0, 1.0)
# Extra width on each side, as a share of the plate width: corner estimates often clip the first or last
# character's edge, which costs the recogniser that character (measured on the real test plates).
SIDE_MARGIN = 0.03


def unit_square_homographies(corners: np.ndarray) -> np.ndarray:
    """(K,3,3) maps taking (u, v, 1) in the unit square to the plate quad: (0,0) -> TL, (1,0) -> TR,
    (1,1) -> BR, (0,1) -> BL. `corners` is (K,4,2) TL, TR, BR, BL. Closed form (Heckbert's square-to-quad);
    a degenerate quad gives non-finite entries, which callers drop."""
    c = corners.astype(np.float64)
    x0, x1, x2, x3 = (c[:, i, 0] for i in range(4))
    y0, y1, y2, y3 = (c[:, i, 1] for i in range(4))
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    with np.errstate(divide="ignore", invalid="ignore"):
        det = dx1 * dy2 - dx2 * dy1
        g = (dx3 * dy2 - dx2 * dy3) / det
        h = (dx1 * dy3 - dx3 * dy1) / det
    out = np.empty((len(c), 3, 3))
    out[:, 0] = np.stack([x1 - x0 + g * x1, x3 - x0 + h * x3, x0], axis=1)
    out[:, 1] = np.stack([y1 - y0 + g * y1, y3 - y0 + h * y3, y0], axis=1)
    out[:, 2] = np.stack([g, h, np.ones_like(g)], axis=1)
    return out


def plate_aspect(corners: np.ndarray) -> np.ndarray:
    """Width over height of each (K,4,2) quad: mean of top/bottom edges over mean of left/right edges."""
    tl, tr, br, bl = (corners[:, i].astype(np.float64) for i in range(4))
    width = (np.linalg.norm(tr - tl, axis=1) + np.linalg.norm(br - bl, axis=1)) / 2
    height = (np.linalg.norm(bl - tl, axis=1) + np.linalg.norm(br - tr, axis=1)) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return width / height


def crop_matrices(unit: np.ndarray, v_range: tuple[float, float], out_h: int, out_w: np.ndarray,
                  margin: float = SIDE_MARGIN) -> np.ndarray:
    """(K,3,3) inverse maps from pixels of an out_h x out_w[k] crop to source pixels, for the band of the
    plate between heights v_range (fractions of the plate height), widened by `margin` on both sides.
    Crop pixel centres sample the quad at (-m + (x + 0.5) / w * (1 + 2m), v0 + (y + 0.5) / h * (v1 - v0))."""
    v0, v1 = v_range
    w = out_w.astype(np.float64)
    span = 1.0 + 2.0 * margin
    to_unit = np.zeros((len(unit), 3, 3))
    to_unit[:, 0, 0] = span / w
    to_unit[:, 0, 2] = -margin + 0.5 * span / w
    to_unit[:, 1, 1] = (v1 - v0) / out_h
    to_unit[:, 1, 2] = v0 + 0.5 * (v1 - v0) / out_h
    to_unit[:, 2, 2] = 1.0
    return unit @ to_unit


def crop_widths(aspect: np.ndarray, band: float, out_h: int, *, multiple: int, max_width: int,
                margin: float = SIDE_MARGIN) -> np.ndarray:
    """Crop width keeping the band's aspect (with side margins) at height out_h, rounded to `multiple`, capped."""
    raw = np.nan_to_num(aspect * (1.0 + 2.0 * margin) / band * out_h, nan=multiple, posinf=max_width)
    widths = np.round(raw / multiple).astype(np.int64) * multiple
    return np.clip(widths, multiple, max_width)
