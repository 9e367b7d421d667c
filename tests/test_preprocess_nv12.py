"""NV12 frames straight into core.preprocess_batch / core.warp_batch and FaceDetector.detect (issue #4).

Real frames of real clips are decoded twice by kuzet's VideoReader, as NV12 and as RGB, and the NV12 path is
checked two ways:
1. against an independent reference (OpenCV's bilinear resize of the luma plane and of the half-size chroma
   planes, then the colour-space equations in numpy): same maths, so only float rounding separates them;
2. against the decoder's own RGB frame through the RGB path, with a bound derived per pixel (below).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

import kuzet
from kuzet._native import core

# (clip, colour space the reader reports, full range) - BT.709 and BT.601 limited range, and a yuvj (full).
CLIPS = [
    ("faces/video/short_hamilton_clip.mp4", "bt709", False),
    ("plates/video/license_plate_uk.mp4", "unknown", False),  # unspecified: BT.601, as the decoder does
    ("faces/video/carphone_qcif.mp4", "unknown", False),
    ("faces/video/intel_asl_again.mkv", "unknown", True),  # yuvj420p, color_range "pc"
]
FITS = ["letterbox_center", "letterbox_topleft", "stretch", "keep_height"]

# Luma / chroma weights (Kr, Kb) of the colour-space equations, per colour space name.
KR_KB = {"bt709": (0.2126, 0.0722), "unknown": (0.299, 0.114), "bt601": (0.299, 0.114)}


def _frames(path: Path, index: int = 0) -> tuple[np.ndarray, np.ndarray, kuzet.VideoMetadata]:
    """(NV12 (H*3/2, W), RGB (H, W, 3), metadata) of frame `index`, decoded by kuzet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "decoding on the CPU" in CPU-only builds
        out = []
        for layout in ("nv12", "rgb"):
            reader = kuzet.VideoReader(path, layout=layout, device="cpu")
            for i, frame in enumerate(reader):
                if i == index:
                    out.append(frame.data)
                    break
        meta = kuzet.VideoReader(path, layout="nv12", device="cpu").metadata
    rgb = out[1]
    h, w = rgb.shape[:2]
    return out[0].reshape(h * 3 // 2, w), rgb, meta


@pytest.fixture(scope="module", params=CLIPS, ids=lambda c: Path(c[0]).stem)
def clip(request: pytest.FixtureRequest, data_dir: Path) -> tuple[np.ndarray, np.ndarray, str, bool]:
    rel, space, full = request.param
    nv12, rgb, meta = _frames(data_dir / rel, index=5)
    assert meta.color_space == space  # what the test's reference equations assume
    assert (meta.color_range == "pc") == full
    return nv12, rgb, space, full


def _matrix(space: str, full: bool) -> tuple[float, float, np.ndarray]:
    """(luma scale, luma offset, 3x2 chroma matrix) of the textbook YCbCr -> RGB equations."""
    kr, kb = KR_KB[space]
    kg = 1 - kr - kb
    c = 1.0 if full else 255 / 224
    chroma = c * np.array([[0, 2 * (1 - kr)], [-2 * (1 - kb) * kb / kg, -2 * (1 - kr) * kr / kg],
                           [2 * (1 - kb), 0]])
    return (1.0, 0.0, chroma) if full else (255 / 219, 16.0, chroma)


def _reference(nv12: np.ndarray, new_h: int, new_w: int, space: str, full: bool) -> np.ndarray:
    """Float RGB (new_h, new_w, 3): luma and the half-size U, V planes resized bilinearly (OpenCV, half-pixel
    centres, so chroma sits at the centre of its 2x2 luma block) and converted per pixel, clamped."""
    h = nv12.shape[0] * 2 // 3
    y = cv2.resize(nv12[:h].astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    uv = nv12[h:].reshape(h // 2, nv12.shape[1] // 2, 2).astype(np.float32)
    uv = cv2.resize(uv, (new_w, new_h), interpolation=cv2.INTER_LINEAR) - 128.0
    y_scale, y_offset, chroma = _matrix(space, full)
    rgb = y_scale * (y[..., None] - y_offset) + uv @ chroma.T
    return np.clip(rgb, 0, 255)


def _placed(batch: np.ndarray, transforms: np.ndarray, h: int, w: int) -> tuple[np.ndarray, int, int]:
    """The image region of one preprocessed output (HWC) and its size."""
    sx, sy, px, py = transforms[0]
    new_w, new_h = round(w * float(sx)), round(h * float(sy))
    return batch[0].transpose(1, 2, 0)[int(py):int(py) + new_h, int(px):int(px) + new_w], new_h, new_w


@pytest.mark.parametrize("fit", FITS)
def test_nv12_preprocess_matches_opencv_reference(clip: tuple, fit: str) -> None:
    nv12, rgb, space, full = clip
    h, w = rgb.shape[:2]
    batch, transforms = core.preprocess_batch([nv12], 320, 256, fit=fit, pad_value=-7.0, pixel_format="nv12",
                                              color_space=space, full_range=full)
    image, new_h, new_w = _placed(batch, transforms, h, w)
    ref = _reference(nv12, new_h, new_w, space, full)
    # Same maths; the native side uses the decoder's 16-bit coefficients (within 1e-4 of the textbook ones).
    assert np.abs(image - ref).max() < 0.1
    outside = np.ones(batch.shape[2:], bool)
    sx, sy, px, py = transforms[0]
    outside[int(py):int(py) + new_h, int(px):int(px) + new_w] = False
    assert np.all(batch[0][:, outside] == -7.0)


def _decoder_bound(nv12: np.ndarray, space: str, full: bool, resized: bool = False) -> np.ndarray:
    """Per-pixel bound (H, W, 3) on |NV12 path - decoder RGB|, in levels.

    The decoder (swscale's arithmetic) takes the nearest chroma sample (one per 2x2 block) and truncates each
    16-bit product: its R and B are up to 2 levels below the exact value (2 truncated terms), G up to 3.
    At the frame's own size the NV12 path interpolates chroma among the 3x3 chroma samples around that
    nearest one, so its U (V) differs from the decoder's by at most d_U (d_V), the largest step from the
    nearest sample to a neighbour. Resized (or warped), both paths blend with the same bilinear weights, and
    every chroma sample either path reads for one output pixel lies in the 3x3 neighbourhood of one chroma
    sample, so d is that neighbourhood's range (max - min) instead. d moves R by |r_v| d_V,
    G by |g_u| d_U + |g_v| d_V, B by |b_u| d_U; 0.5 covers the float/16-bit coefficient rounding.
    Clamping to 0..255 only shrinks a per-pixel difference, but the decoder clamps each pixel before the
    RGB path blends them while the NV12 path clamps the blend: resized, the bound also gets the largest
    amount by which the decoder's unclamped value of a pixel leaves 0..255 (|clamp(sum w O) - sum w
    clamp(D)| <= sum w |O - D| + sum w |D - clamp(D)|).
    """
    h = nv12.shape[0] * 2 // 3
    uv = nv12[h:].reshape(h // 2, nv12.shape[1] // 2, 2).astype(np.float32)
    padded = np.pad(uv, ((1, 1), (1, 1), (0, 0)), mode="edge")
    step = np.zeros_like(uv)
    low, high = uv.copy(), uv.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = padded[1 + dy:1 + dy + uv.shape[0], 1 + dx:1 + dx + uv.shape[1]]
            step = np.maximum(step, np.abs(shifted - uv))
            low, high = np.minimum(low, shifted), np.maximum(high, shifted)
    d = high - low if resized else step
    d = d.repeat(2, axis=0).repeat(2, axis=1)  # nearest chroma: one sample per 2x2 block
    _, _, chroma = _matrix(space, full)
    a = np.abs(chroma)
    d_u, d_v = d[..., 0], d[..., 1]
    bound = np.stack([2 + a[0, 1] * d_v, 3 + a[1, 0] * d_u + a[1, 1] * d_v, 2 + a[2, 0] * d_u], axis=-1) + 0.5
    if resized:
        y_scale, y_offset, _ = _matrix(space, full)
        nearest = uv.repeat(2, axis=0).repeat(2, axis=1) - 128.0
        unclamped = y_scale * (nv12[:h, :, None].astype(np.float32) - y_offset) + nearest @ chroma.T
        bound += np.maximum(np.maximum(-unclamped, unclamped - 255), 0).max()
    return bound


def test_nv12_preprocess_agrees_with_decoder_rgb_at_frame_size(clip: tuple) -> None:
    nv12, rgb, space, full = clip
    h, w = rgb.shape[:2]
    ours, _ = core.preprocess_batch([nv12], h, w, fit="stretch", pixel_format="nv12", color_space=space,
                                    full_range=full)
    theirs, _ = core.preprocess_batch([rgb], h, w, fit="stretch")
    diff = np.abs(ours[0] - theirs[0]).transpose(1, 2, 0)
    assert np.all(diff <= _decoder_bound(nv12, space, full))
    # On average only the decoder's truncation (about 1 level) and chroma edges remain.
    assert diff.mean() < 2.0


@pytest.mark.parametrize("fit", FITS)
def test_nv12_preprocess_agrees_with_decoder_rgb(clip: tuple, fit: str) -> None:
    nv12, rgb, space, full = clip
    mean, scale = (127.5, 120.0, 110.0), (1 / 128, 1 / 64, 1 / 32)
    ours, t_ours = core.preprocess_batch([nv12], 224, 288, fit=fit, mean=mean, scale=scale, channel_order="bgr",
                                         pixel_format="nv12", color_space=space, full_range=full)
    theirs, t_theirs = core.preprocess_batch([rgb], 224, 288, fit=fit, mean=mean, scale=scale,
                                             channel_order="bgr")
    assert np.array_equal(t_ours, t_theirs)
    levels = np.abs(ours[0] - theirs[0]) / np.array(scale)[::-1, None, None]  # back to 0..255 levels
    # Each resized value blends source pixels with the same bilinear weights on both paths, so it cannot
    # differ by more than the largest per-pixel bound of the frame.
    assert levels.max() <= _decoder_bound(nv12, space, full, resized=True).max()
    assert levels.mean() < 2.5


def _warp_matrices(h: int, w: int) -> np.ndarray:
    """A similarity crop of the frame centre, a rotation, one partly outside the frame and a perspective."""
    mats = []
    for angle, cx, cy, s in ((0.0, w / 2, h / 2, 0.7), (17.0, w / 3, h / 2, 0.45), (-30.0, 5.0, 4.0, 0.9)):
        a = np.deg2rad(angle)
        mats.append([[s * np.cos(a), -s * np.sin(a), cx - 40], [s * np.sin(a), s * np.cos(a), cy - 40], [0, 0, 1]])
    mats.append([[0.8, 0.1, w / 4], [0.05, 0.9, h / 5], [0.0004, 0.0002, 1.0]])
    return np.asarray(mats, np.float64)


def test_nv12_warp_agrees_with_decoder_rgb(clip: tuple) -> None:
    nv12, rgb, space, full = clip
    h, w = rgb.shape[:2]
    mats = _warp_matrices(h, w)
    index = np.zeros(len(mats), np.int64)
    ours = core.warp_batch([nv12], index, mats, 96, 112, border_value=40, pixel_format="nv12", color_space=space,
                           full_range=full)
    theirs = core.warp_batch([rgb], index, mats, 96, 112, border_value=40)
    assert ours.shape == theirs.shape == (len(mats), 96, 112, 3) and ours.dtype == np.uint8
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    # Bilinear blends as above, plus one level of output rounding on each side.
    assert diff.max() <= _decoder_bound(nv12, space, full, resized=True).max() + 1
    assert diff.mean() < 2.5
    assert np.all(ours[2, 0, 0] == 40)  # the third crop starts outside the frame: the border, as RGB does


def test_nv12_warp_matches_reference_when_axis_aligned(clip: tuple) -> None:
    """A pure scale + shift warp samples exactly where a resize does: compare with the OpenCV reference."""
    nv12, rgb, space, full = clip
    h, w = rgb.shape[:2]
    out_h, out_w = h // 2, w // 2
    # output (x, y) -> source (2x + 0.5, 2y + 0.5): the half-pixel-centre resize by 2.
    mat = np.array([[[2.0, 0, 0.5], [0, 2.0, 0.5], [0, 0, 1]]])
    ours = core.warp_batch([nv12], np.zeros(1, np.int64), mat, out_h, out_w, pixel_format="nv12",
                           color_space=space, full_range=full)
    ref = _reference(nv12, out_h, out_w, space, full)
    assert np.abs(ours[0].astype(np.float32) - ref)[:-1, :-1].max() <= 0.6  # output rounding only


def test_rgb_default_is_unchanged(data_dir: Path) -> None:
    """pixel_format defaults to 'rgb': the same call with and without it gives identical bytes."""
    _, rgb, _ = _frames(data_dir / "faces/video/carphone_qcif.mp4")
    a, ta = core.preprocess_batch([rgb], 160, 160, mean=0.5, scale=0.25)
    b, tb = core.preprocess_batch([rgb], 160, 160, mean=0.5, scale=0.25, pixel_format="rgb")
    assert np.array_equal(a, b) and np.array_equal(ta, tb)


def test_batched_array_of_nv12_frames(clip: tuple) -> None:
    nv12, rgb, space, full = clip
    stacked = np.stack([nv12, nv12[::-1].copy()])  # (N, H*3/2, W)
    batch, _ = core.preprocess_batch(stacked, 64, 64, pixel_format="nv12", color_space=space, full_range=full)
    single, _ = core.preprocess_batch([nv12], 64, 64, pixel_format="nv12", color_space=space, full_range=full)
    assert batch.shape == (2, 3, 64, 64)
    assert np.array_equal(batch[0], single[0])
    assert not np.array_equal(batch[1], single[0])


def test_nv12_bad_inputs_raise_clear_errors() -> None:
    ok = np.zeros((6, 4), np.uint8)
    with pytest.raises(kuzet.InvalidArgument, match="even width and height"):
        core.preprocess_batch([np.zeros((5 + 3, 4), np.uint8)], 8, 8, pixel_format="nv12")  # 5 rows + 3 UV rows
    with pytest.raises(kuzet.InvalidArgument, match="even width and height"):
        core.preprocess_batch([np.zeros((6, 5), np.uint8)], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="height\\*3/2 rows"):
        core.preprocess_batch([np.zeros((7, 4), np.uint8)], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="images: NV12 frames need an even width"):
        core.preprocess_batch(np.zeros((2, 6, 5), np.uint8), 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="uint8"):
        core.preprocess_batch([ok.astype(np.float32)], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="reshape"):
        core.preprocess_batch([ok.ravel()], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="images\\[1\\].*pixel_format='rgb'"):
        core.preprocess_batch([ok, np.zeros((4, 4, 3), np.uint8)], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="empty"):
        core.preprocess_batch([np.zeros((0, 4), np.uint8)], 8, 8, pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format must be 'rgb' or 'nv12'"):
        core.preprocess_batch([ok], 8, 8, pixel_format="yuv420p")
    with pytest.raises(kuzet.InvalidArgument, match="color_space 'bt999'"):
        core.preprocess_batch([ok], 8, 8, pixel_format="nv12", color_space="bt999")
    with pytest.raises(kuzet.InvalidArgument, match="warp_batch: images\\[0\\].*even"):
        core.warp_batch([np.zeros((6, 5), np.uint8)], np.zeros(1, np.int64), np.eye(3)[None], 4, 4,
                        pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="not contiguous"):
        core.preprocess_batch([np.zeros((6, 8), np.uint8)[:, ::2]], 8, 8, pixel_format="nv12")


def test_face_detector_on_nv12_finds_the_same_faces(data_dir: Path, model_dir: Path) -> None:
    detector = kuzet.FaceDetector(model_dir=model_dir, device="cpu")
    for rel, full in (("faces/video/short_hamilton_clip.mp4", False), ("faces/video/intel_asl_again.mkv", True)):
        nv12, rgb, meta = _frames(data_dir / rel, index=10)
        from_rgb = detector.detect([rgb])[0]
        from_nv12 = detector.detect([nv12], pixel_format="nv12", color_space=meta.color_space, full_range=full)[0]
        assert len(from_rgb) >= 1, rel  # real faces in these clips
        assert len(from_nv12) == len(from_rgb), rel
        for a, b in zip(from_rgb, from_nv12, strict=True):
            assert np.abs(np.asarray(a.box) - np.asarray(b.box)).max() <= 2.0, rel
            assert abs(a.score - b.score) < 0.05, rel


def test_face_detector_nv12_bad_input(model_dir: Path) -> None:
    detector = kuzet.FaceDetector(model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.InvalidArgument, match="reshape"):
        detector.detect([np.zeros(96, np.uint8)], pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="even width and height"):
        detector.detect([np.zeros((12, 7), np.uint8)], pixel_format="nv12")
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format"):
        detector.detect([np.zeros((12, 8), np.uint8)], pixel_format="i420")


@pytest.mark.skipif(core.native_build_info()["cuda"]["built"], reason="checks the CPU-only build's message")
def test_nv12_on_cuda_in_a_cpu_build_says_why() -> None:
    with pytest.raises(kuzet.KuzetError, match="built without CUDA"):
        core.preprocess_batch([np.zeros((6, 4), np.uint8)], 8, 8, pixel_format="nv12", device="cuda")


def test_face_pipeline_on_nv12_matches_rgb(data_dir: Path, model_dir: Path) -> None:
    """FacePipeline.process on NV12 frames: the same faces, aligned from the NV12 frame, embedded alike."""
    pipeline = kuzet.FacePipeline(detector=kuzet.FaceDetector(model_dir=model_dir, device="cpu"),
                                  embedder=kuzet.FaceEmbedder(model_dir=model_dir, device="cpu"))
    nv12, rgb, meta = _frames(data_dir / "faces/video/short_hamilton_clip.mp4", index=10)
    from_rgb = pipeline.process([rgb])[0]
    from_nv12 = pipeline.process([nv12], pixel_format="nv12", color_space=meta.color_space)[0]
    assert len(from_rgb) >= 1 and len(from_nv12) == len(from_rgb)
    for a, b in zip(from_rgb, from_nv12, strict=True):
        assert np.abs(np.asarray(a.box) - np.asarray(b.box)).max() <= 2.0
        assert a.embedding is not None and b.embedding is not None
        # Crops differ by about a level of colour and a fraction of a pixel of landmark: near-identical vectors.
        assert float(np.dot(a.embedding, b.embedding)) >= 0.99
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format"):
        pipeline.process([nv12], pixel_format="yuv")
