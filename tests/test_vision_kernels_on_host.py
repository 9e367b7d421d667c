"""The CUDA kernels' own per-pixel code, run on the host, against the CPU implementations.

No GPU runs these tests: the pre-processing and warp kernels (src/cpp/preprocess/cuda/vision_cuda.cu) and the
decoder's to_yuv420 kernel (decode/cuda/convert_kernels.cu) only find their pixel and call __host__ __device__
functions (vision_pixels.hpp, convert_kernels.hpp); the host twins (core._preprocess_kernel_on_host,
_warp_kernel_on_host, _yuv420_kernel_on_host) call the same functions, with the same parameter structs built by
the same setup code, for every pixel. vision_cuda.cu is compiled with --fmad=false, so a GPU performs exactly
the float/double operations the twin does.

Agreement found: identical, bit for bit, everywhere (RGB and NV12 letterbox / stretch / keep-height with any
channel order and normalisation, the pad region, RGB and NV12 warps with their border and out-of-range guard,
the 4:2:0 repacking). So every comparison here is exact equality.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import kuzet
from kuzet._native import core
from kuzet.faces.align import alignment_matrices
from kuzet.plates import PlateDetector, rectify

# (clip, colour space the reader reports, full range): BT.709 and BT.601 limited range, and a yuvj (full).
CLIPS = [
    ("faces/video/short_hamilton_clip.mp4", "bt709", False),
    ("plates/video/license_plate_uk.mp4", "unknown", False),  # unspecified: BT.601, as the decoder does
    ("faces/video/carphone_qcif.mp4", "unknown", False),
    ("faces/video/intel_asl_again.mkv", "unknown", True),  # yuvj420p, color_range "pc"
]
STILLS = [
    "faces/images/ultralytics/zidane.jpg",  # 1280x720
    "faces/images/face_recognition/obama-240p.jpg",  # 427x240: odd width
    "faces/images/ultralytics/bus.jpg",  # 810x1080: portrait
    "plates/images/fast_alpr/test_image.png",  # 518x331 RGBA
]
FITS = ["letterbox_center", "letterbox_topleft", "stretch", "keep_height"]
# (channel order, mean, scale, pad value): raw RGB, a YuNet-style BGR, ImageNet normalisation.
NORMS = [
    ("rgb", 0.0, 1.0, 0.0),
    ("bgr", 127.5, 1 / 128, -1.0),
    ("rgb", (123.675, 116.28, 103.53), (1 / 58.395, 1 / 57.12, 1 / 57.375), 0.5),
]


def _decode(path: Path, layout: str, index: int) -> tuple[np.ndarray, kuzet.VideoMetadata]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "decoding on the CPU" in CPU-only builds
        reader = kuzet.VideoReader(path, layout=layout, device="cpu")
        for i, frame in enumerate(reader):
            if i == index:
                return frame.data, reader.metadata
    raise AssertionError(f"{path} has no frame {index}")


@pytest.fixture(scope="module", params=CLIPS, ids=lambda c: Path(c[0]).stem)
def clip(request: pytest.FixtureRequest, data_dir: Path) -> dict[str, Any]:
    """Frame 5 of a real clip decoded by kuzet as NV12 (H*3/2, W), yuv420p (flat) and RGB, with its colour."""
    rel, space, full = request.param
    path = data_dir / rel
    nv12, meta = _decode(path, "nv12", 5)
    assert meta.color_space == space and (meta.color_range == "pc") == full
    rgb, _ = _decode(path, "rgb", 5)
    yuv420p, _ = _decode(path, "yuv420p", 5)
    h, w = rgb.shape[:2]
    return {"nv12": nv12.reshape(h * 3 // 2, w), "yuv420p": yuv420p.reshape(-1), "rgb": rgb,
            "color": {"color_space": space, "full_range": full}}


@pytest.fixture(scope="module")
def stills(data_dir: Path) -> list[np.ndarray]:
    out = []
    for rel in STILLS:
        bgr = cv2.imread(str(data_dir / rel), cv2.IMREAD_COLOR)
        assert bgr is not None, rel
        out.append(np.ascontiguousarray(bgr[..., ::-1]))
    # A view with strided rows (a crop of a bigger frame), as a caller's ROI would be.
    out.append(out[0][101:101 + 333, 57:57 + 517])
    assert not out[-1].flags.c_contiguous
    return out


def _preprocess_all_ways(images: list[np.ndarray], out_h: int, out_w: int, **kw: Any) -> None:
    """CPU preprocess_batch (each SIMD level) == kernel code on the host, with the sources packed (as
    preprocess_batch(device='cuda') uploads host frames) and read in place (as cuda_preprocess_batch reads
    device frames)."""
    cpu, cpu_tr = core.preprocess_batch(images, out_h, out_w, threads=2, **kw)
    for simd in ("scalar", "avx2"):  # a level this CPU lacks runs the next narrower one
        np.testing.assert_array_equal(core.preprocess_batch(images, out_h, out_w, simd=simd, **kw)[0], cpu,
                                      err_msg=f"simd={simd} {kw}")
    for in_place in (False, True):
        twin, twin_tr = core._preprocess_kernel_on_host(images, out_h, out_w, in_place=in_place, **kw)
        np.testing.assert_array_equal(twin_tr, cpu_tr)
        np.testing.assert_array_equal(twin, cpu, err_msg=f"in_place={in_place} {kw}")


@pytest.mark.parametrize("size", [(640, 640), (97, 131), (384, 640)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fit", FITS)
def test_preprocess_rgb_stills(stills: list[np.ndarray], size: tuple[int, int], fit: str) -> None:
    # One batch of five sources of different sizes: the packed layout puts them one after the other.
    for order, mean, scale, pad in NORMS:
        _preprocess_all_ways(stills, *size, channel_order=order, mean=mean, scale=scale, fit=fit, pad_value=pad)


@pytest.mark.parametrize("size", [(640, 640), (97, 131), (360, 640)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("fit", ["letterbox_center", "stretch", "keep_height"])
def test_preprocess_real_frames_rgb_and_nv12(clip: dict[str, Any], size: tuple[int, int], fit: str) -> None:
    for order, mean, scale, pad in NORMS[:2]:
        kw: dict[str, Any] = {"channel_order": order, "mean": mean, "scale": scale, "fit": fit, "pad_value": pad}
        _preprocess_all_ways([clip["rgb"]], *size, **kw)
        # The frame, and its left half as a view with strided rows (a valid NV12 frame of half the width).
        left = clip["nv12"][:, : clip["nv12"].shape[1] // 2]
        _preprocess_all_ways([clip["nv12"], left], *size, **(kw | {"pixel_format": "nv12"} | clip["color"]))
    # The NV12 twin reads the right planes: it gives the decoder's RGB frame through the RGB twin to within
    # the decoder's own rounding and chroma upsampling (measured: 0.55 to 1.31 levels on average on these
    # clips; with U and V swapped it would be 4.3 to 19.6).
    nv12, _ = core._preprocess_kernel_on_host([clip["nv12"]], *size, fit=fit, pixel_format="nv12", **clip["color"])
    rgb, _ = core._preprocess_kernel_on_host([clip["rgb"]], *size, fit=fit)
    assert np.abs(nv12 - rgb).mean() < 2.0


def test_preprocess_random_images_and_sizes() -> None:
    rng = np.random.default_rng(7)
    for case in range(40):
        nv12 = case % 2 == 1
        h, w = (int(v) for v in rng.integers(1, 300, 2))
        if case < 6:  # edges: a single pixel, a single row or column, and tiny outputs
            h, w = [(1, 1), (1, 37), (41, 1), (2, 2), (2, 90), (64, 2)][case]
        if nv12:
            h, w = h + h % 2, w + w % 2
        out_h, out_w = (int(v) for v in rng.integers(1, 400, 2))
        images = [rng.integers(0, 256, (h * 3 // 2, w) if nv12 else (h, w, 3), dtype=np.uint8) for _ in range(2)]
        kw = {
            "channel_order": ["rgb", "bgr"][case % 4 // 2],
            "mean": tuple(float(v) for v in rng.uniform(-10, 200, 3)),
            "scale": tuple(float(v) for v in rng.uniform(-2, 2, 3)),
            "fit": FITS[case % 4],
            "pad_value": float(rng.uniform(-3, 3)),
        }
        if nv12:
            kw |= {"pixel_format": "nv12", "color_space": ["bt601", "bt709"][case % 3 % 2],
                   "full_range": case % 5 == 0}
        _preprocess_all_ways(images, out_h, out_w, **kw)


def _warp_all_ways(images: list[np.ndarray], index: np.ndarray, matrices: np.ndarray, out_h: int, out_w: int,
                   **kw: Any) -> np.ndarray:
    """CPU warp_batch (each SIMD level) == warp kernel code on the host (sources packed and in place); returns
    the crops."""
    cpu = core.warp_batch(images, index, matrices, out_h, out_w, threads=2, **kw)
    for simd in ("scalar", "avx2"):  # a level this CPU lacks runs the next narrower one
        np.testing.assert_array_equal(core.warp_batch(images, index, matrices, out_h, out_w, simd=simd, **kw), cpu,
                                      err_msg=f"simd={simd} {kw}")
    for in_place in (False, True):
        twin = core._warp_kernel_on_host(images, index, matrices, out_h, out_w, in_place=in_place, **kw)
        np.testing.assert_array_equal(twin, cpu, err_msg=f"in_place={in_place} {kw}")
    return cpu


@pytest.fixture(scope="module")
def face_landmarks(stills: list[np.ndarray], model_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(image index, landmarks (M,5,2)) of the faces YuNet finds in the stills."""
    faces = kuzet.FaceDetector(model_dir=model_dir, device="cpu").detect(stills[:3])
    index = np.array([i for i, fs in enumerate(faces) for _ in fs], np.int32)
    landmarks = np.array([f.landmarks for fs in faces for f in fs], np.float64)
    assert len(index) >= 5  # zidane: 2, obama: 1, bus: several
    return index, landmarks


@pytest.mark.parametrize("size", [112, 160, 37])
def test_warp_face_alignment(stills: list[np.ndarray], face_landmarks: tuple[np.ndarray, np.ndarray],
                             size: int) -> None:
    index, landmarks = face_landmarks
    crops = _warp_all_ways(stills[:3], index, alignment_matrices(landmarks, size), size, size)
    assert crops.std() > 20  # real faces, not border
    # Faces near the frame's edge (moved there): their crops reach outside the image and read the border.
    moved = landmarks.copy()
    moved[:, :, 0] -= moved[:, :, 0].min(axis=1, keepdims=True) + 5
    for border in (0, 255, 90):
        crops = _warp_all_ways(stills[:3], index, alignment_matrices(moved, size), size, size, border_value=border)
        assert (crops == border).all(axis=-1).any()


def test_warp_face_alignment_nv12(clip: dict[str, Any], model_dir: Path) -> None:
    # Landmarks from the RGB frame, crops from the NV12 frame with the stream's colour conversion.
    faces = kuzet.FaceDetector(model_dir=model_dir, device="cpu").detect([clip["rgb"]])[0]
    landmarks = np.array([f.landmarks for f in faces], np.float64).reshape(-1, 5, 2)
    if len(landmarks) == 0:  # no face (the plate clip): a made-up face in the middle of the frame
        h, w = clip["rgb"].shape[:2]
        landmarks = np.array([[[0.4 * w, 0.4 * h], [0.6 * w, 0.4 * h], [0.5 * w, 0.5 * h],
                               [0.42 * w, 0.6 * h], [0.58 * w, 0.6 * h]]])
    index = np.zeros(len(landmarks), np.int32)
    for border in (0, 128):
        _warp_all_ways([clip["nv12"]], index, alignment_matrices(landmarks, 112), 112, 112, border_value=border,
                       pixel_format="nv12", **clip["color"])


def test_warp_plate_rectification(data_dir: Path, model_dir: Path) -> None:
    path = data_dir / "plates" / "video" / "license_plate_uk.mp4"
    rgb, meta = _decode(path, "rgb", 60)
    nv12, _ = _decode(path, "nv12", 60)
    nv12 = nv12.reshape(rgb.shape[0] * 3 // 2, rgb.shape[1])
    plates = PlateDetector(model_dir=model_dir, device="cpu").detect([rgb])[0]
    assert plates
    corners = np.array([p.corners for p in plates], np.float64)
    # The plate as it is, and pushed half out of the frame (over the left edge, then the bottom edge).
    quads = np.concatenate([corners, corners - [[corners[0, :, 0].mean(), 0]],
                            corners + [[0, rgb.shape[0] - corners[0, :, 1].mean()]]])
    unit = rectify.unit_square_homographies(quads)
    for band, out_h, out_w in [(rectify.FULL, 64, 192), (rectify.TOP_LINE, 48, 160), (rectify.BOTTOM_LINE, 31, 97)]:
        mats = rectify.crop_matrices(unit, band, out_h, np.full(len(unit), out_w))
        assert np.any(mats[:, 2, :2] != 0)  # perspective, not affine
        index = np.zeros(len(mats), np.int32)
        crops = _warp_all_ways([rgb], index, mats, out_h, out_w, border_value=17)
        assert (crops[len(plates):] == 17).all(axis=-1).any()  # the pushed-out plates read the border
        _warp_all_ways([nv12], index, mats, out_h, out_w, border_value=17, pixel_format="nv12",
                       color_space=meta.color_space, full_range=meta.color_range == "pc")


def _degenerate_matrices(h: int, w: int) -> np.ndarray:
    """Matrices the warp must survive: a point with no finite source is `border`, never a crash or garbage."""
    nan, inf = float("nan"), float("inf")
    mats = [
        np.eye(3),  # exact integer positions
        [[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]],  # half-pixel positions
        [[1, 0, w - 1.5], [0, 1, h - 1.5], [0, 0, 1]],  # bottom-right corner, taps past the last pixel
        [[1, 0, -0.25], [0, 1, -0.75], [0, 0, 1]],  # top-left, taps before the first pixel
        [[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1]],  # mirrored
        [[0.1, 0, 0], [0, 0.1, 0], [0, 0, 1]],  # magnified: inexact steps
        np.zeros((3, 3)),  # w = 0 everywhere
        [[1, 0, 0], [0, 1, 0], [0, 0, 0]],  # w = 0 everywhere, with a finite numerator
        [[1, 0, 0], [0, 1, 0], [0.01, 0, -0.2]],  # w crosses 0 inside the crop (horizon)
        [[1, 0, 0], [1, 0, 0], [0, 0, 1]],  # singular: every output row samples the diagonal
        [[0, 0, 3], [0, 0, 2], [0, 0, 1]],  # rank 1: one source point everywhere
        [[1, 0, 1e20], [0, 1, 0], [0, 0, 1]],  # far outside (beyond 2^24)
        [[1, 0, -16777215.5], [0, 1, 0], [0, 0, 1]],  # just inside the 2^24 guard, far outside the image
        [[1, 0, nan], [0, 1, 0], [0, 0, 1]],
        [[inf, 0, 0], [0, 1, 0], [0, 0, 1]],
        [[1, 0, 0], [0, 1, 0], [nan, 0, 1]],
        [[1e300, 0, 0], [0, 1e300, 0], [0, 0, 1e-300]],
    ]
    return np.array(mats, np.float64)


# Source sizes down to a single pixel (NV12: even sizes only).
WARP_SOURCES = [("rgb", (1, 1)), ("rgb", (1, 9)), ("rgb", (7, 1)), ("rgb", (2, 2)), ("rgb", (33, 47)),
                ("rgb", (240, 427)), ("nv12", (2, 2)), ("nv12", (2, 8)), ("nv12", (34, 46)), ("nv12", (240, 426))]


@pytest.mark.parametrize(("pixel_format", "shape"), WARP_SOURCES, ids=lambda v: str(v))
def test_warp_edges_borders_and_degenerate_matrices(pixel_format: str, shape: tuple[int, int]) -> None:
    h, w = shape
    extra = {"pixel_format": "nv12", "color_space": "bt709", "full_range": False} if pixel_format == "nv12" else {}
    rng = np.random.default_rng(h * 1000 + w)
    images = [rng.integers(0, 256, (h * 3 // 2, w) if pixel_format == "nv12" else (h, w, 3), dtype=np.uint8)
              for _ in range(2)]
    mats = _degenerate_matrices(h, w)
    index = np.arange(len(mats), dtype=np.int32) % 2
    for border in (0, 1, 128, 255):
        with np.errstate(invalid="ignore"):
            crops = _warp_all_ways(images, index, mats, 19, 23, border_value=border, **extra)
        for k in (6, 7, 11, 12, 13, 14, 15):  # no source anywhere in the image: all border
            assert (crops[k] == border).all(), k


def test_warp_random_affine_and_perspective() -> None:
    rng = np.random.default_rng(11)
    for case in range(12):
        nv12 = case % 2 == 1
        shapes = [tuple(int(v) * 2 for v in rng.integers(1, 200, 2)) for _ in range(3)]
        images = [rng.integers(0, 256, (h * 3 // 2, w) if nv12 else (h, w, 3), dtype=np.uint8) for h, w in shapes]
        m = 30
        index = rng.integers(0, 3, m).astype(np.int32)
        mats = np.zeros((m, 3, 3))
        mats[:, :2, :2] = rng.uniform(-2, 2, (m, 2, 2))
        mats[:, :2, 2] = rng.uniform(-60, 400, (m, 2))
        mats[:, 2, 2] = 1
        if case % 4 >= 2:
            mats[:, 2, :2] = rng.uniform(-4e-3, 4e-3, (m, 2))
        extra = {"pixel_format": "nv12", "color_space": "bt601", "full_range": case % 3 == 0} if nv12 else {}
        out_h, out_w = (int(v) for v in rng.integers(1, 90, 2))
        _warp_all_ways(images, index, mats, out_h, out_w, border_value=int(rng.integers(0, 256)), **extra)


def test_warp_reads_the_last_pixels_of_an_image_and_nothing_past_it() -> None:
    # Crops whose samples fall just inside the bottom-right corner of tightly packed images (the vector loop reads
    # 4 bytes at a time: under ASan an over-read fails here), at every SIMD level and in the kernel twin.
    rng = np.random.default_rng(5)
    for h, w in ((2, 2), (3, 5), (17, 9), (64, 64)):
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        eps = 1e-6
        mats = np.array([[[eps, 0, w - 1 - 8 * eps], [0, eps, h - 1 - 8 * eps], [0, 0, 1]],  # the last 2x2 taps
                         [[1, 0, w - 9], [0, 1, h - 2 - eps], [0, 0, 1]],  # along the last row pair
                         [[0.5, 0.1, 0], [-0.1, 0.5, h / 2], [0, 0, 1]]], np.float64)
        crops = _warp_all_ways([img], np.zeros(3, np.int32), mats, 8, 8, border_value=3)
        corner = img[h - 2:, w - 2:].reshape(4, 3).astype(np.float64)  # weights ~(0, 0, 0, 1) of the last 2x2
        assert np.abs(crops[0].reshape(-1, 3).astype(np.float64) - corner[3]).max() <= 1


def test_warp_rgb_kernel_is_bilinear() -> None:
    """Independent check of what the (shared) arithmetic computes: the warp kernel's crops against a float64
    bilinear warp in numpy, taps outside reading the border. The CPU's 11-bit fixed-point weights (which the
    kernel now uses too, to give the same bytes) keep every pixel within one level."""
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (61, 83, 3), dtype=np.uint8)
    m = np.array([[0.83, -0.31, 5.2], [0.29, 0.91, -7.7], [0, 0, 1]])
    border = 77
    crop = core._warp_kernel_on_host([img], np.zeros(1, np.int32), m[None], 70, 90, border_value=border)[0]
    ys, xs = np.mgrid[0:70, 0:90].astype(np.float64)
    sx, sy = m[0, 0] * xs + m[0, 1] * ys + m[0, 2], m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    x0, y0 = np.floor(sx).astype(int), np.floor(sy).astype(int)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    padded = np.pad(img.astype(np.float64), ((1, 1), (1, 1), (0, 0)), constant_values=border)

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= -1) & (yy <= img.shape[0]) & (xx >= -1) & (xx <= img.shape[1])
        v = padded[np.clip(yy + 1, 0, img.shape[0] + 1), np.clip(xx + 1, 0, img.shape[1] + 1)]
        return np.where(inside[..., None], v, border)

    ref = ((1 - fx) * (1 - fy) * tap(y0, x0) + fx * (1 - fy) * tap(y0, x0 + 1) + (1 - fx) * fy * tap(y0 + 1, x0)
           + fx * fy * tap(y0 + 1, x0 + 1))
    diff = np.abs(crop.astype(np.float64) - np.floor(ref + 0.5))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.02
    assert (crop == border).all(axis=-1).any() and not (crop == border).all()


def test_yuv420_repack_equals_cpu_decoder(clip: dict[str, Any]) -> None:
    nv12, planar = clip["nv12"], clip["yuv420p"]
    h, w = clip["rgb"].shape[:2]
    flat = np.ascontiguousarray(nv12).reshape(-1)
    np.testing.assert_array_equal(core._yuv420_kernel_on_host(flat, w, h, interleaved_uv=False), planar)
    np.testing.assert_array_equal(core._yuv420_kernel_on_host(flat, w, h, interleaved_uv=True), flat)
    # The same content as 16-bit P016 samples (value in the high byte, noise in the low byte): rounded
    # to 8 bits as (s + 128) >> 8, saturating at 255.
    rng = np.random.default_rng(5)
    p016 = (flat.astype(np.uint16) << 8) | rng.integers(0, 256, flat.shape, dtype=np.uint16)
    rounded = np.minimum((p016.astype(np.int32) + 128) >> 8, 255).astype(np.uint8)
    np.testing.assert_array_equal(core._yuv420_kernel_on_host(p016, w, h, interleaved_uv=True), rounded)
    quiet = flat.astype(np.uint16) << 8  # no low bits: exactly the decoder's 8-bit frame
    np.testing.assert_array_equal(core._yuv420_kernel_on_host(quiet, w, h, interleaved_uv=False), planar)


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (6, 7), (9, 4), (31, 17)], ids=str)
def test_yuv420_repack_odd_sizes(shape: tuple[int, int]) -> None:
    h, w = shape
    cw, ch = (w + 1) // 2, (h + 1) // 2
    rng = np.random.default_rng(w * h)
    luma = rng.integers(0, 256, (h, w), dtype=np.uint8)
    uv = rng.integers(0, 256, (ch, cw, 2), dtype=np.uint8)
    frame = np.concatenate([luma.reshape(-1), uv.reshape(-1)])
    planar = core._yuv420_kernel_on_host(frame, w, h, interleaved_uv=False)
    np.testing.assert_array_equal(planar, np.concatenate([luma.reshape(-1), uv[..., 0].reshape(-1),
                                                          uv[..., 1].reshape(-1)]))
    np.testing.assert_array_equal(core._yuv420_kernel_on_host(frame, w, h, interleaved_uv=True), frame)


def test_hooks_refuse_bad_arguments() -> None:
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(kuzet.InvalidArgument, match="fit"):
        core._preprocess_kernel_on_host([img], 8, 8, fit="crop")
    with pytest.raises(kuzet.InvalidArgument, match="mean"):
        core._preprocess_kernel_on_host([img], 8, 8, mean=(1.0, float("nan"), 0.0))
    with pytest.raises(kuzet.InvalidArgument, match="image_index"):
        core._warp_kernel_on_host([img], np.array([1]), np.eye(3)[None], 8, 8)
    with pytest.raises(kuzet.InvalidArgument, match="border_value"):
        core._warp_kernel_on_host([img], np.array([0]), np.eye(3)[None], 8, 8, border_value=256)
    with pytest.raises(kuzet.InvalidArgument, match="samples"):
        core._yuv420_kernel_on_host(np.zeros(10, np.uint8), 4, 4, interleaved_uv=True)
    with pytest.raises(kuzet.InvalidArgument, match="uint8"):
        core._yuv420_kernel_on_host(np.zeros(24, np.float32), 4, 4, interleaved_uv=True)


@pytest.mark.parametrize("entry", ["preprocess_batch", "_preprocess_kernel_on_host"])
@pytest.mark.parametrize("kwargs, message", [
    ({"fit": "zoom"}, "fit zoom is not one of letterbox_center"),
    ({"mean": (1.0, 2.0)}, "mean must be a number or 3 numbers"),
    ({"mean": "abc"}, "mean must be a number or 3 numbers"),
    ({"scale": float("nan")}, "scale must be finite"),
    ({"out_h": 0}, "output size 0x64 is out of range"),
])
def test_cpu_and_kernel_twin_refuse_the_same_arguments(entry: str, kwargs: dict, message: str) -> None:
    args = {"out_h": 64, "out_w": 64, **kwargs}
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(kuzet.InvalidArgument, match=f"{entry}: {message}"):
        getattr(core, entry)([image], args.pop("out_h"), args.pop("out_w"), **args)


def test_simd_level_names_are_checked() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(kuzet.InvalidArgument, match="warp_batch: simd must be"):
        core.warp_batch([img], np.zeros(1, np.int32), np.eye(3)[None], 4, 4, simd="sse9")
    with pytest.raises(kuzet.InvalidArgument, match="preprocess_batch: simd must be"):
        core.preprocess_batch([img], 4, 4, simd="")
