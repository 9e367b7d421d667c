"""preprocess_batch on images already at the output scale (no resampling: converted row by row)."""

from __future__ import annotations

import numpy as np
import pytest

from kuzet._native import core


@pytest.mark.parametrize(("fit", "out_hw"), [("letterbox_topleft", (640, 640)), ("letterbox_center", (384, 640)),
                                             ("stretch", (360, 640)), ("keep_height", (360, 704))])
def test_unscaled_image_is_converted_exactly(fit: str, out_hw: tuple[int, int]) -> None:
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 256, (400, 700, 3), np.uint8)
    image = frame[20:380, 30:670]  # a strided view: rows are 700 pixels apart
    mean, scale = (10.0, 20.0, 30.0), (0.5, 0.25, 2.0)
    h, w = out_hw
    batch, transforms = core.preprocess_batch([image, image], h, w, channel_order="bgr", mean=mean, scale=scale,
                                              fit=fit, pad_value=-7.0, threads=2)
    sx, sy, px, py = transforms[0]
    assert (sx, sy) == (1.0, 1.0)
    expected = np.full((3, h, w), -7.0, np.float32)
    bgr = image[:, :, ::-1].astype(np.float32)
    for c in range(3):
        expected[c, int(py):int(py) + 360, int(px):int(px) + 640] = (bgr[:, :, c] - mean[c]) * scale[c]
    np.testing.assert_allclose(batch[0], expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(batch[1], batch[0])
