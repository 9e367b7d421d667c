"""The box-only YOLO detector family on a real network: y5fu's head cut to the YOLOv5 layout
(cx, cy, w, h, objectness, class scores; no corners) must find the same plates, read from their
axis-aligned boxes."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from kuzet.models import ModelSpec
from kuzet.plates import PlateDetector, PlatePipeline, PlateReader


def _box_only_copy(y5fu_path, out_path):
    """y5fu's [1, M, 15] output sliced to columns 0..4 (box, objectness) and 13..14 (class scores)."""
    model = onnx.load(str(y5fu_path))
    graph = model.graph
    head = graph.output[0]
    m = head.type.tensor_type.shape.dim[1].dim_value

    def ints(name, values):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, TensorProto.INT64,
                                                                                 [len(values)], values))

    graph.node.extend([
        ints("cut_box_start", [0]), ints("cut_box_end", [5]), ints("cut_cls_start", [13]),
        ints("cut_cls_end", [15]), ints("cut_axis", [2]),
        helper.make_node("Slice", [head.name, "cut_box_start", "cut_box_end", "cut_axis"], ["cut_box"]),
        helper.make_node("Slice", [head.name, "cut_cls_start", "cut_cls_end", "cut_axis"], ["cut_cls"]),
        helper.make_node("Concat", ["cut_box", "cut_cls"], ["boxes"], axis=2),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, m, 7]))
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))


@pytest.fixture(scope="module")
def box_only_detector(model_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("yolo") / "plate_yolo_box_only.onnx"
    _box_only_copy(model_dir / "plate_detection" / "hyperlpr3_y5fu_320x.onnx", path)
    spec = ModelSpec("plate_yolo_box_only", path.name, None, "plate_detector", "yolo", "Apache-2.0",
                     "HyperLPR3 y5fu head cut to the YOLOv5 box-only layout (test)", (320, 320))
    return PlateDetector(spec, path=path, device="cpu")


def test_box_only_detector_finds_the_same_plates_without_corners(box_only_detector, model_dir, uk_plate_frames):
    corners_detector = PlateDetector(model_dir=model_dir, device="cpu")
    batch = [uk_plate_frames[i] for i in (0, 60, 120)]
    box_only = box_only_detector.detect(batch)
    with_corners = corners_detector.detect(batch)
    assert [len(f) for f in box_only] == [1, 1, 1]
    for a, b in zip(box_only, with_corners, strict=True):
        assert len(a) == len(b)
        np.testing.assert_allclose(a[0].box, b[0].box, atol=1e-3)
        assert a[0].score == pytest.approx(b[0].score, abs=1e-5)
        assert a[0].corners == () and not a[0].double_row


def test_box_only_detector_reads_ls15ebc_as_one_track(box_only_detector, model_dir, uk_plate_frames):
    pipeline = PlatePipeline(box_only_detector, PlateReader(model_dir=model_dir, device="cpu"), formats=("uk",))
    tracks = []
    for start in range(0, len(uk_plate_frames), 8):
        stop = min(start + 8, len(uk_plate_frames))
        tracks += pipeline.update(uk_plate_frames[start:stop], [i / 30 for i in range(start, stop)])
    tracks += pipeline.flush()
    assert [t.text for t in tracks] == ["LS15EBC"]
    assert tracks[0].confidence > 0.5
