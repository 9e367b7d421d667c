import shutil

import numpy as np
import pytest

from kuzet.errors import InvalidArgument, ModelError
from kuzet.models import REGISTRY, get_spec, load_model, resolve_model
from kuzet.models.registry import DEFAULTS


def test_every_registered_model_resolves_and_matches_its_checksum(model_dir):
    for spec in REGISTRY.values():
        path = resolve_model(spec, model_dir=model_dir)
        assert path.is_file() and path.suffix == ".onnx"
    assert set(DEFAULTS.values()) <= set(REGISTRY)


def test_model_dir_from_environment(model_dir, monkeypatch):
    monkeypatch.setenv("KUZET_MODEL_DIR", str(model_dir))
    assert resolve_model(get_spec("yunet")) == model_dir / "face_detection" / "yunet_2023mar_640x640.onnx"


def test_missing_model_says_where_to_put_it(tmp_path):
    with pytest.raises(ModelError, match=r"not found in .*KUZET_MODEL_DIR"):
        resolve_model(get_spec("yunet"), model_dir=tmp_path)


def test_corrupt_model_is_refused_by_checksum(model_dir, tmp_path):
    target = tmp_path / "face_detection" / "yunet_2023mar_640x640.onnx"
    target.parent.mkdir()
    shutil.copy(model_dir / "face_detection" / "yunet_2023mar_640x640.onnx", target)
    with target.open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="sha256"):
        resolve_model(get_spec("yunet"), model_dir=tmp_path)


def test_unknown_model_name_lists_known_ones():
    with pytest.raises(ModelError, match="known models: .*yunet"):
        get_spec("no-such-model")


def test_model_of_another_role_is_refused(model_dir):
    with pytest.raises(ModelError, match="is a plate_detector, not a face_detector"):
        load_model("hyperlpr3_320", model_dir=model_dir, role="face_detector", device="cpu")


def test_graph_that_does_not_fit_the_contract_is_refused(model_dir):
    plate_detector = model_dir / "plate_detection" / "hyperlpr3_y5fu_320x.onnx"
    with pytest.raises(ModelError, match="does not fit the 'yunet' contract"):
        load_model("yunet", path=plate_detector, device="cpu")


def test_not_an_onnx_file_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(ModelError, match="not a readable ONNX file|could not load"):
        load_model("yunet", path=junk, device="cpu")


@pytest.mark.parametrize("name", ["yunet", "hyperlpr3_320"])
def test_fixed_batch_models_get_a_batch_axis_with_unchanged_results(model_dir, name):
    model = load_model(name, model_dir=model_dir, device="cpu")
    assert model.batch_made_dynamic
    h, w = get_spec(name).input_size or (0, 0)
    batch = np.random.default_rng(1).uniform(0, 255, (3, 3, h, w)).astype(np.float32)
    together = model.run(batch)
    for i in range(3):
        alone = model.run(batch[i : i + 1])
        for key, value in alone.items():
            np.testing.assert_allclose(together[key][i : i + 1], value, rtol=1e-4, atol=1e-4)


def test_run_rejects_wrong_dtype(model_dir):
    model = load_model("mobileface_v2", model_dir=model_dir, device="cpu")
    with pytest.raises(InvalidArgument, match="float32 NCHW"):
        model.run(np.zeros((1, 3, 112, 112), np.uint8))


def test_cuda_request_without_cuda_provider_is_an_error(model_dir):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        model = load_model("mobileface_v2", model_dir=model_dir, device="cuda")
        assert model.device == "cuda:0"
    else:
        with pytest.raises(ModelError, match="no CUDAExecutionProvider"):
            load_model("mobileface_v2", model_dir=model_dir, device="cuda")


def test_a_cuda_provider_that_does_not_start_is_not_taken_for_cuda(model_dir, monkeypatch):
    # onnxruntime-gpu lists its CUDA EP even where it cannot start (cuDNN missing, no GPU) and then builds the
    # session on the CPU, saying so only in its log: here, a choice of CUDA whose session has the CPU EP only.
    from kuzet.models import session

    def cuda_listed_but_not_starting(device):
        kind, index = session._parse_device(device)
        return session.DeviceChoice(f"cuda:{index}", ["CPUExecutionProvider"], None)

    monkeypatch.setattr(session, "choose_providers", cuda_listed_but_not_starting)
    monkeypatch.setattr(session, "_cache", {})
    with pytest.raises(ModelError, match="'cuda' asked for, but onnxruntime's CUDAExecutionProvider did not start"):
        load_model("mobileface_v2", model_dir=model_dir, device="cuda")
    with pytest.warns(RuntimeWarning, match="running on CPU .*did not start"):
        model = load_model("mobileface_v2", model_dir=model_dir, device="auto")
    assert model.device == "cpu"
    embedding = next(iter(model.run(np.zeros((1, 3, 112, 112), np.float32)).values()))  # a working CPU session
    assert embedding.shape == (1, 256)


def test_onnxruntime_failures_are_model_errors(model_dir):
    model = load_model("yunet", model_dir=model_dir, device="cpu")  # a fixed 640x640 input
    with pytest.raises(ModelError, match="onnxruntime failed to run it on \\(1, 3, 320, 320\\)"):
        model.run(np.zeros((1, 3, 320, 320), np.float32))
    small = np.zeros((1, 3, 320, 320), np.float32)
    with pytest.raises(ModelError, match="onnxruntime failed to run it on cpu:0"):
        model.run_bound(small.ctypes.data, small.shape, "cpu", 0)


def test_a_model_with_a_float16_input_is_refused_at_load():
    import onnx
    from onnx import TensorProto, helper

    from kuzet.models.contracts import check_contract

    node = helper.make_node("GlobalAveragePool", ["x"], ["pooled"])
    flat = helper.make_node("Flatten", ["pooled"], ["y"])
    graph = helper.make_graph([node, flat], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT16,
                                                                                ["N", 3, 112, 112])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["N", 3])])
    with pytest.raises(ModelError, match="input 'x' is float16, expected float"):
        check_contract(helper.make_model(graph), "arcface", "model 'half'")
    graph.input[0].type.tensor_type.elem_type = TensorProto.FLOAT
    check_contract(onnx.helper.make_model(graph), "arcface", "model 'full'")  # the same graph in float32 fits


def test_a_callers_model_file_is_known_by_its_content_not_its_name(model_dir, tmp_path):
    """Two weight files with one name (or a file replaced in place) are different models: their embedder ids
    differ, each gets its own session, and a watchlist of one refuses the other's embeddings."""
    import kuzet

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(model_dir / "face_recognition/mobileface_v2_256d.onnx", tmp_path / "a/face.onnx")
    shutil.copy(model_dir / "face_recognition/mobileface_v3_256d.onnx", tmp_path / "b/face.onnx")
    v2 = kuzet.FaceEmbedder(path=tmp_path / "a/face.onnx", device="cpu")
    v3 = kuzet.FaceEmbedder(path=tmp_path / "b/face.onnx", device="cpu")
    assert v2.model_id != v3.model_id and v2.model is not v3.model
    assert v2.model_id == f"mobileface_v2:{get_spec('mobileface_v2').sha256}"  # the registered file's own id
    watchlist = kuzet.Watchlist()
    watchlist.enrol("a", np.ones(256, np.float32), model_id=v2.model_id)
    with pytest.raises(ModelError):
        watchlist.search(np.ones(256, np.float32), model_id=v3.model_id)
    shutil.copy(tmp_path / "b/face.onnx", tmp_path / "a/face.onnx")  # weights replaced under the same path
    replaced = kuzet.FaceEmbedder(path=tmp_path / "a/face.onnx", device="cpu")
    assert replaced.model_id == v3.model_id and replaced.model is not v2.model
