"""The plate pipeline on real images and video with the real models (HyperLPR3-320 + PP-OCRv4)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import kuzet
from kuzet.plates import PlateDetector, PlatePipeline, PlateReader

# Plates a person can read in the shared stills, and that this pipeline reads exactly (DATA.md lists them).
EXPECTED = {
    "yolov4_custom_functions/car.jpg": ["FMA6383"],  # Quebec
    "yolov4_custom_functions/car2.jpg": ["STA5131E"],  # German 'S TA 5131E'
    "yolov4_custom_functions/car3.jpg": ["VODKAA"],  # California vanity plate, detected as two-row
    "yolov4_custom_functions/car4.jpg": ["KS67AEA"],  # UK
    "fast_alpr/test_image.png": ["5AU5341"],  # Czech
    "parkpow/demo.jpg": ["BY649AG", "ZA834CO"],  # Italian vans (ZA834CO needs the 'it' format: C0 -> CO)
}


def _rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    assert bgr is not None, path
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.fixture(scope="module")
def models(model_dir):
    return (PlateDetector(model_dir=model_dir, device="cpu"), PlateReader(model_dir=model_dir, device="cpu"))


@pytest.fixture(scope="module")
def video_frames(uk_plate_frames):
    return uk_plate_frames


def test_stills_are_read_correctly_in_one_batch(models, data_dir):
    pipeline = PlatePipeline(*models, formats=("it",), hotlist=["ZA 834 CO", "KS67AEB"])
    names = sorted(EXPECTED)
    images = [_rgb(data_dir / "plates" / "images" / n) for n in names]
    results = pipeline.process(images)
    for name, reads in zip(names, results, strict=True):
        assert sorted(r.text for r in reads) == sorted(EXPECTED[name]), (name, [r.to_dict() for r in reads])
        for r in reads:
            x1, y1, x2, y2 = r.box
            assert 0 <= x1 < x2 and 0 <= y1 < y2 and len(r.corners) == 4
            assert len(r.char_confidences) == len(r.text) and 0.5 < r.confidence <= 1.0
    by_text = {r.text: r for reads in results for r in reads}
    assert by_text["ZA834CO"].raw_text == "ZA834C0" and by_text["ZA834CO"].format == "it"
    assert by_text["ZA834CO"].hotlist is not None and by_text["ZA834CO"].hotlist.exact
    assert by_text["KS67AEA"].hotlist is not None and by_text["KS67AEA"].hotlist.distance == 1
    assert by_text["VODKAA"].double_row  # the state name line above it was dropped as not plate text
    assert by_text["FMA6383"].hotlist is None
    as_json = json.loads(json.dumps(by_text["ZA834CO"].to_dict()))
    assert as_json["raw_text"] == "ZA834C0" and len(as_json["corners"]) == 4 and len(as_json["box"]) == 4


def test_batch_results_equal_single_image_results(models, data_dir):
    pipeline = PlatePipeline(*models)
    names = sorted(EXPECTED)
    images = [_rgb(data_dir / "plates" / "images" / n) for n in names]
    together = pipeline.process(images)
    for image, reads in zip(images, together, strict=True):
        alone = pipeline.process([image])[0]
        assert [r.text for r in alone] == [r.text for r in reads]
        for a, b in zip(alone, reads, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=0.05)
            np.testing.assert_allclose(a.char_confidences, b.char_confidences, atol=0.02)


def test_uk_video_gives_one_voted_track_for_the_mercedes(models, video_frames):
    pipeline = PlatePipeline(*models, formats=("uk",), hotlist=["LS15EBC"], max_gap=0.5)
    tracks = []
    for start in range(0, len(video_frames), 8):
        batch = video_frames[start : start + 8]
        tracks += pipeline.update(batch, [i / 30 for i in range(start, start + len(batch))])
    tracks += pipeline.flush()
    assert len(tracks) == 1, [t.to_dict() for t in tracks]
    track = tracks[0]
    assert track.text == "LS15EBC" and track.format == "uk"
    assert track.frames == 140 and track.first_pts == 0.0 and track.last_pts == pytest.approx(139 / 30)
    assert track.hotlist is not None and track.hotlist.exact
    assert track.votes > 100
    as_json = json.loads(json.dumps(track.to_dict()))
    assert as_json["text"] == "LS15EBC" and as_json["hotlist"] == {"plate": "LS15EBC", "distance": 0, "exact": True}


def test_uk_video_single_frames_raw_reads(models, video_frames):
    # Frame 120 is read cleanly; every read, with the UK format, is the Mercedes' plate.
    reads = PlatePipeline(*models, formats=("uk",)).process([video_frames[i] for i in (0, 60, 120)])
    assert [len(r) for r in reads] == [1, 1, 1]
    assert [r[0].text for r in reads] == ["LS15EBC"] * 3
    assert all(r[0].raw_text in ("LS15EBC", "LSI5EBC") for r in reads)


def test_parked_car_is_read_once(models, video_frames):
    # The same frame over 3 s (a parked car): one track, not one read per frame.
    pipeline = PlatePipeline(*models, formats=("uk",))
    frame = video_frames[120]
    tracks = pipeline.update([frame] * 10, [i * 0.3 for i in range(10)]) + pipeline.flush()
    assert [t.text for t in tracks] == ["LS15EBC"] and tracks[0].frames == 10


def test_frames_without_plates_and_empty_batches(models):
    pipeline = PlatePipeline(*models)
    gray = np.full((240, 320, 3), 128, np.uint8)
    assert pipeline.process([gray, gray]) == [[], []]
    assert pipeline.process([]) == []
    assert pipeline.process(np.zeros((2, 64, 64, 3), np.uint8)) == [[], []]


def test_bad_inputs_are_clear_errors(models):
    pipeline = PlatePipeline(*models)
    with pytest.raises(kuzet.InvalidArgument, match="one image"):
        pipeline.process(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(kuzet.InvalidArgument, match="image 1 must be HxWx3 uint8"):
        pipeline.process([np.zeros((64, 64, 3), np.uint8), np.zeros((64, 64), np.uint8)])
    with pytest.raises(kuzet.InvalidArgument, match="image 0 must be HxWx3 uint8"):
        pipeline.process([np.zeros((64, 64, 3), np.float32)])
    with pytest.raises(kuzet.InvalidArgument, match="empty"):
        pipeline.process([np.zeros((0, 64, 3), np.uint8)])
    with pytest.raises(kuzet.InvalidArgument, match="list of HxWx3"):
        pipeline.process("frame.jpg")  # type: ignore[arg-type]
    with pytest.raises(kuzet.InvalidArgument, match="2 frames but 1 pts"):
        pipeline.update([np.zeros((64, 64, 3), np.uint8)] * 2, [0.0])
    with pytest.raises(kuzet.InvalidArgument, match="score_threshold"):
        PlateDetector(score_threshold=1.5)


def test_wrong_models_are_model_errors(model_dir, tmp_path):
    with pytest.raises(kuzet.ModelError, match="is a face_detector, not a plate_detector"):
        PlateDetector("yunet", model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.ModelError, match="is a plate_detector, not a plate_reader"):
        PlateReader("hyperlpr3_320", model_dir=model_dir, device="cpu")
    with pytest.raises(kuzet.ModelError, match="does not fit the 'y5fu' contract"):
        PlateDetector(path=model_dir / "face_detection" / "yunet_2023mar_640x640.onnx", device="cpu")
    with pytest.raises(kuzet.ModelError, match="not found"):
        PlateReader(model_dir=tmp_path, device="cpu")


def test_overlapped_cpu_schedule_equals_staged(model_dir, data_dir, video_frames):
    """Two workers: each frame's detection is a pool task that queues its plate reads (overlapped); one
    worker: detect the batch, then read it (staged). Both give the same reads."""
    images = [_rgb(data_dir / "plates" / "images" / n) for n in sorted(EXPECTED)] + video_frames[::20]
    results = []
    for workers in (2, 1):
        pipeline = PlatePipeline(PlateDetector(model_dir=model_dir, device="cpu", workers=workers),
                                 PlateReader(model_dir=model_dir, device="cpu", workers=workers), formats=("uk",))
        assert pipeline.detector._runner.spreads_runs == (workers > 1)
        results.append(pipeline.process(images))
    overlapped, staged = results
    assert sum(len(r) for r in overlapped) >= 12
    for a_frame, b_frame in zip(overlapped, staged, strict=True):
        assert [r.text for r in a_frame] == [r.text for r in b_frame]
        for a, b in zip(a_frame, b_frame, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=1e-4)
            np.testing.assert_allclose(a.char_confidences, b.char_confidences, atol=1e-5)


def test_process_from_a_pool_thread_runs_inline(models, video_frames):
    """Called on one of the shared pool's threads, the pipeline runs inline instead of waiting on the pool
    (which could wait forever with every pool thread doing the same) and reads the same plates."""
    from kuzet.models.parallel import shared_pool

    pipeline = PlatePipeline(*models, formats=("uk",))
    batches = [video_frames[i:i + 4] for i in range(100, 124, 4)]
    direct = [[r.text for r in f] for b in batches for f in pipeline.process(b)]
    jobs = [shared_pool().submit(pipeline.process, b) for b in batches]
    nested = [[r.text for r in f] for job in jobs for f in job.result(timeout=120)]
    assert nested == direct and any(direct)


def test_nv12_frames_read_the_same_plates(models, data_dir):
    """Frames decoded as NV12 (no RGB frame made: detection letterbox and rectification read the planes)
    give the same plate track as the RGB frames of the same decoder."""
    clip = data_dir / "plates" / "video" / "license_plate_uk.mp4"
    with kuzet.VideoReader(clip, device="cpu", layout="nv12") as reader:
        meta = reader.metadata
        nv12 = [f.data.reshape(meta.height * 3 // 2, meta.width) for f in reader]
    with kuzet.VideoReader(clip, device="cpu", layout="rgb") as reader:
        rgb = [f.data for f in reader]
    colour = {"color_space": meta.color_space, "full_range": meta.color_range == "pc"}
    picks = [0, 60, 120]
    detector = models[0]
    for a, b in zip(detector.detect([nv12[i] for i in picks], pixel_format="nv12", **colour),
                    detector.detect([rgb[i] for i in picks]), strict=True):
        assert len(a) == len(b) == 1
        np.testing.assert_allclose(a[0].box, b[0].box, atol=2.0)
        np.testing.assert_allclose(a[0].corners, b[0].corners, atol=2.0)
    tracks = {}
    for fmt, frames in (("nv12", nv12), ("rgb", rgb)):
        pipeline = PlatePipeline(*models, formats=("uk",))
        found = []
        for start in range(0, len(frames), 8):
            pts = [i / 30 for i in range(start, min(start + 8, len(frames)))]
            kw = {"pixel_format": "nv12", **colour} if fmt == "nv12" else {}
            found += pipeline.update(frames[start : start + 8], pts, **kw)
        tracks[fmt] = [t.text for t in found + pipeline.flush()]
    assert tracks["nv12"] == tracks["rgb"] == ["LS15EBC"]
    with pytest.raises(kuzet.InvalidArgument, match="pixel_format"):
        PlatePipeline(*models).process(nv12[:1], pixel_format="yuv")
