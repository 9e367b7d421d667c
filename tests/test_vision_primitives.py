"""Shared vision primitives (kuzet._core.preprocess_batch / warp_batch / nms) against OpenCV and a reference NMS,
on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

import kuzet
from kuzet._native import core


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def photos(data_dir: Path) -> list[np.ndarray]:
    faces = data_dir / "faces" / "images"
    return [load_rgb(faces / "insightface" / "t1.jpg"), load_rgb(faces / "skimage" / "astronaut.png"),
            load_rgb(faces / "opencv" / "messi5.jpg")]


def resized_region(batch: np.ndarray, transform: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, int, int]:
    sx, sy, px, py = transform
    nw, nh = round(shape[1] * sx), round(shape[0] * sy)
    return batch[:, int(py):int(py) + nh, int(px):int(px) + nw].transpose(1, 2, 0), nw, nh


@pytest.mark.parametrize("fit", ["letterbox_center", "letterbox_topleft", "stretch", "keep_height"])
@pytest.mark.parametrize("size", [(640, 640), (320, 480), (48, 320), (1100, 1500)])
def test_preprocess_matches_cv2_resize(photos: list[np.ndarray], fit: str, size: tuple[int, int]) -> None:
    out_h, out_w = size
    batch, transforms = core.preprocess_batch(photos, out_h, out_w, fit=fit, pad_value=-5.0)
    assert batch.shape == (len(photos), 3, out_h, out_w) and batch.dtype == np.float32
    for i, img in enumerate(photos):
        region, nw, nh = resized_region(batch[i], transforms[i], img.shape)
        ref = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        assert np.abs(region - ref).max() <= 1.0, (fit, size, i)
        # everything outside the resized image is padding
        mask = np.ones((out_h, out_w), bool)
        sx, sy, px, py = transforms[i]
        mask[int(py):int(py) + nh, int(px):int(px) + nw] = False
        assert np.all(batch[i][:, mask] == -5.0)
        if fit == "stretch":
            assert (nw, nh) == (out_w, out_h)
        elif fit == "keep_height":
            assert nh == out_h and nw == min(out_w, round(out_h * img.shape[1] / img.shape[0])) and px == py == 0
        else:
            assert nw == out_w or nh == out_h  # letterbox touches two sides
            assert abs(sx - sy) < 0.01  # aspect kept
            if fit == "letterbox_topleft":
                assert px == py == 0
            else:
                assert px == (out_w - nw) // 2 and py == (out_h - nh) // 2


def test_preprocess_channel_order_and_normalisation(photos: list[np.ndarray]) -> None:
    img = photos[1]
    mean, scale = (104.0, 117.0, 123.0), (1 / 58.0, 1 / 57.0, 1 / 59.0)
    batch, _ = core.preprocess_batch([img], 256, 256, channel_order="bgr", mean=mean, scale=scale, fit="stretch")
    ref = cv2.resize(img, (256, 256), interpolation=cv2.INTER_LINEAR)[..., ::-1].astype(np.float32)
    ref = ((ref - np.array(mean, np.float32)) * np.array(scale, np.float32)).transpose(2, 0, 1)
    assert np.abs(batch[0] - ref).max() <= 1.0 / 57.0 + 1e-6


def test_preprocess_transform_maps_back(photos: list[np.ndarray]) -> None:
    img = photos[0]  # 1280x886
    _, t = core.preprocess_batch([img], 640, 640)
    sx, sy, px, py = t[0]
    # the image's bottom-right corner lands at the edge of the resized region and maps back exactly
    assert (640 - px) / sx == pytest.approx(img.shape[1], rel=1e-4)
    assert (py + img.shape[0] * sy - py) / sy == pytest.approx(img.shape[0], rel=1e-4)


def test_preprocess_batch_array_out_buffer_and_strided_rows(photos: list[np.ndarray]) -> None:
    img = photos[0]
    stack = np.stack([img, img[::-1].copy()])
    out = np.full((2, 3, 320, 320), np.nan, np.float32)
    batch, _ = core.preprocess_batch(stack, 320, 320, out=out)
    assert batch is out
    single, _ = core.preprocess_batch([img], 320, 320)
    np.testing.assert_array_equal(out[0], single[0])
    crop = img[100:500, 200:900]  # a view with strided rows, no copy
    a, _ = core.preprocess_batch([crop], 200, 200)
    b, _ = core.preprocess_batch([np.ascontiguousarray(crop)], 200, 200)
    np.testing.assert_array_equal(a, b)


def test_preprocess_empty_batch() -> None:
    batch, t = core.preprocess_batch([], 64, 64)
    assert batch.shape == (0, 3, 64, 64) and t.shape == (0, 4)


def affine_and_perspective() -> list[np.ndarray]:
    rot = np.array([[0.8, 0.2, 100.3], [-0.2, 0.8, 50.7], [0, 0, 1]])
    persp = np.array([[0.8, 0.2, -20.3], [-0.2, 0.8, 50.7], [1e-4, 2e-4, 1]])
    scale_up = np.array([[0.25, 0, 300.1], [0, 0.25, 200.6], [0, 0, 1]])
    return [rot, persp, scale_up]


def test_warp_matches_cv2(photos: list[np.ndarray]) -> None:
    matrices = affine_and_perspective()
    crops = core.warp_batch(photos, np.array([0, 1, 2], np.int32), np.stack(matrices), 180, 240, border_value=7)
    assert crops.shape == (3, 180, 240, 3) and crops.dtype == np.uint8
    for k, (m, img) in enumerate(zip(matrices, photos, strict=True)):
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        if k == 1:
            ref = cv2.warpPerspective(img, m, (240, 180), flags=flags, borderValue=(7, 7, 7))
        else:
            ref = cv2.warpAffine(img, m[:2], (240, 180), flags=flags, borderValue=(7, 7, 7))
        assert np.abs(crops[k].astype(int) - ref).max() <= 1, k
    outside = np.array([[[1, 0, -1000.0], [0, 1, 0], [0, 0, 1]]])
    assert np.all(core.warp_batch(photos, np.zeros(1, np.int32), outside, 4, 4, border_value=7) == 7)


def test_warp_float32_matrices_and_shared_source(photos: list[np.ndarray]) -> None:
    m = np.stack(affine_and_perspective()[:1] * 2).astype(np.float32)
    crops = core.warp_batch(photos[:1], np.zeros(2, np.int64), m, 50, 60)
    np.testing.assert_array_equal(crops[0], crops[1])
    empty = core.warp_batch(photos, np.zeros(0, np.int32), np.zeros((0, 3, 3)), 112, 112)
    assert empty.shape == (0, 112, 112, 3)


def reference_nms(boxes: np.ndarray, scores: np.ndarray, thr: float, groups: np.ndarray) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    for i in order:
        ok = True
        for j in kept:
            if groups[i] != groups[j]:
                continue
            x1, y1 = max(boxes[i, 0], boxes[j, 0]), max(boxes[i, 1], boxes[j, 1])
            x2, y2 = min(boxes[i, 2], boxes[j, 2]), min(boxes[i, 3], boxes[j, 3])
            inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[j]) - inter) > thr:
                ok = False
                break
        if ok:
            kept.append(i)
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_nms_equals_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = 300
    xy = rng.uniform(0, 200, (k, 2))
    wh = rng.uniform(5, 60, (k, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.uniform(0, 1, k).astype(np.float32)
    groups = rng.integers(0, 3, k).astype(np.int32)
    for thr in (0.3, 0.5):
        kept = core.nms(boxes, scores, thr, groups=groups)
        assert kept.dtype == np.int64
        assert kept.tolist() == reference_nms(boxes.astype(np.float64), scores, thr, groups)
    ungrouped = core.nms(boxes, scores, 0.4)
    assert ungrouped.tolist() == reference_nms(boxes.astype(np.float64), scores, 0.4, np.zeros(k, int))
    assert core.nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).shape == (0,)


def test_nms_hand_case() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95], np.float32)
    assert core.nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert core.nms(boxes, scores, 0.5, groups=np.array([0, 0, 0, 1], np.int32)).tolist() == [3, 0, 2]


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([np.zeros((10, 10, 3), np.float32)], "uint8"),
        ([np.zeros((10, 10), np.uint8)], "grey"),
        ([np.zeros((10, 10, 4), np.uint8)], "RGBA"),
        ([np.zeros((0, 10, 3), np.uint8)], "empty"),
        ([np.zeros((10, 20, 3), np.uint8)[:, ::2]], "contiguous"),
        ([[1, 2, 3]], "numpy array"),
        (np.zeros((10, 10, 3), np.uint8), "list"),
        ("frame.jpg", "list"),
    ],
)
def test_bad_images_raise_invalid_argument(images: object, message: str) -> None:
    with pytest.raises(kuzet.InvalidArgument, match=message):
        core.preprocess_batch(images, 32, 32)
    with pytest.raises(kuzet.InvalidArgument, match=message):
        core.warp_batch(images, np.zeros(1, np.int32), np.eye(3)[None], 8, 8)


def test_bad_arguments_raise_invalid_argument() -> None:
    img = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(kuzet.InvalidArgument, match="fit"):
        core.preprocess_batch([img], 32, 32, fit="crop")
    with pytest.raises(kuzet.InvalidArgument, match="channel_order"):
        core.preprocess_batch([img], 32, 32, channel_order="gbr")
    with pytest.raises(kuzet.InvalidArgument, match="out must be float32"):
        core.preprocess_batch([img], 32, 32, out=np.zeros((1, 3, 32, 31), np.float32))
    with pytest.raises(kuzet.InvalidArgument, match="out of range"):
        core.preprocess_batch([img], 0, 32)
    with pytest.raises(kuzet.InvalidArgument, match="mean"):
        core.preprocess_batch([img], 32, 32, mean=(1, 2))
    with pytest.raises(kuzet.InvalidArgument, match="image_index"):
        core.warp_batch([img], np.array([1], np.int32), np.eye(3)[None], 8, 8)
    with pytest.raises(kuzet.InvalidArgument, match="matrices"):
        core.warp_batch([img], np.array([0], np.int32), np.eye(2)[None], 8, 8)
    with pytest.raises(kuzet.InvalidArgument, match="scores"):
        core.nms(np.zeros((2, 4), np.float32), np.array([0.5, np.nan], np.float32), 0.5)
    with pytest.raises(kuzet.InvalidArgument, match="boxes"):
        core.nms(np.zeros((2, 5), np.float32), np.zeros(2, np.float32), 0.5)


def test_nms_groups_beyond_int32_are_refused_not_wrapped() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    assert core.nms(boxes, scores, 0.5, groups=np.array([0, 1], np.int64)).tolist() == [0, 1]
    for groups in (np.array([0, 2**32], np.int64), np.array([1, 2**32 + 1], np.uint64), np.array([0, -2**40])):
        with pytest.raises(kuzet.InvalidArgument, match="int32 range"):
            core.nms(boxes, scores, 0.5, groups=groups)
