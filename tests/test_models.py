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
