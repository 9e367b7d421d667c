"""kuzet/models/fusion.py: the load-time graph rewrites give the original network's outputs (to float rounding),
on every registered model and on small graphs built for each rewrite, and leave alone what does not match."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from kuzet.models import REGISTRY, get_spec, load_model, resolve_model
from kuzet.models.fusion import fuse_elementwise

RNG = np.random.default_rng(7)


def run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def fused_copy(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, int]]:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    counts = fuse_elementwise(copy)
    onnx.checker.check_model(copy)
    return copy, counts


def probe_shape(model: onnx.ModelProto) -> tuple[int, ...]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    defaults = [2, 3, 64, 96]
    return tuple(d.dim_value if d.dim_value > 0 else defaults[i] for i, d in enumerate(dims))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registered_models_give_their_outputs_after_the_rewrites(model_dir: Any, name: str) -> None:
    model = onnx.load(str(resolve_model(get_spec(name), model_dir=model_dir)))
    fused, counts = fused_copy(model)
    x = RNG.uniform(0, 1, probe_shape(model)).astype(np.float32)
    for a, b in zip(run(model, x), run(fused, x), strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(a).max())))
    applied = {k: v for k, v in counts.items() if v}
    if name == "ppocrv4_rec":  # PP-OCRv4's PPLCNetV3
        assert applied == {"hard_swish": 28, "affine_after_conv": 28, "affine_into_pointwise_conv": 12}
        assert len(fused.graph.node) < len(model.graph.node) - 100
        assert fused.ByteSize() <= model.ByteSize()  # the replaced weights are gone, not kept beside the new
    elif name == "mobileface_v2":  # an MXNet export: its weights are graph inputs, its ReLU6s Max/Min pairs
        assert applied == {"weights_as_constants": 193, "relu6": 25}
        assert [i.name for i in fused.graph.input] == ["data"]
    else:
        assert applied == {}, name  # nothing to rewrite in the others


def test_models_load_rewritten_unless_switched_off(model_dir: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sum(load_model("ppocrv4_rec", model_dir=model_dir, device="cpu", threads=1).fused.values()) == 68
    assert load_model("mobileface_v2", model_dir=model_dir, device="cpu", threads=1).fused["relu6"] == 25
    monkeypatch.setenv("KUZET_FUSE_GRAPHS", "0")
    assert load_model("ppocrv4_rec", model_dir=model_dir, device="cpu", threads=2).fused == {}


# -- small graphs, one per rewrite ------------------------------------------------------------------------------
def graph(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray], outputs: list[str],
          shape: tuple[int, ...] = (1, 4, 5, 5), opset: int = 13) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in constants.items()]
    out = [helper.make_tensor_value_info(o, TensorProto.FLOAT, ["n", "c", "h", "w"]) for o in outputs]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))], out,
                          inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def check(model: onnx.ModelProto, expected_ops: list[str], shape: tuple[int, ...] = (1, 4, 5, 5)) -> dict[str, int]:
    fused, counts = fused_copy(model)
    assert [n.op_type for n in fused.graph.node] == expected_ops
    x = RNG.uniform(-5, 5, shape).astype(np.float32)
    for a, b in zip(run(model, x), run(fused, x), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    return counts


def relu6(lo: float = 0.0, hi: float = 6.0, opset: int = 13) -> onnx.ModelProto:
    nodes = [helper.make_node("Max", ["x", "lo"], ["m"]), helper.make_node("Min", ["hi", "m"], ["y"])]
    return graph(nodes, {"lo": np.array([lo]), "hi": np.array(hi)}, ["y"], opset=opset)


def test_relu6_becomes_one_clip() -> None:
    assert check(relu6(), ["Clip"])["relu6"] == 1
    assert check(relu6(-1.0, 2.5, opset=10), ["Clip"])["relu6"] == 1  # bounds as attributes before opset 11
    check(relu6(6.0, 0.0), ["Max", "Min"])  # lo > hi is not a clip
    model = relu6()
    model.graph.output.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, ["n", "c", "h", "w"]))
    check(model, ["Max", "Min"])  # the Max's output is read elsewhere


def test_weights_listed_as_inputs_become_constants() -> None:
    model = conv_affine()
    model.graph.input.extend([helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("w", "b")])
    fused, counts = fused_copy(model)
    assert counts["weights_as_constants"] == 2 and [i.name for i in fused.graph.input] == ["x"]
    x = RNG.uniform(-5, 5, (1, 4, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(run(fused, x)[0], run(model, x)[0], rtol=1e-5, atol=1e-5)


def hard_swish_nodes(x: str = "x", out: str = "y") -> list[onnx.NodeProto]:
    return [helper.make_node("Add", [x, "three"], ["a"]), helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
            helper.make_node("Mul", [x, "c"], ["m"]), helper.make_node("Div", ["m", "six"], [out])]


HS_CONSTANTS = {"three": np.array([3.0]), "zero": np.array(0.0), "six": np.array([6.0])}


def test_hard_swish_becomes_two_passes() -> None:
    counts = check(graph(hard_swish_nodes(), HS_CONSTANTS, ["y"]), ["HardSigmoid", "Mul"])
    assert counts["hard_swish"] == 1
    # An intermediate that is also read elsewhere (here: a graph output) keeps the pattern as it is.
    check(graph(hard_swish_nodes(), HS_CONSTANTS, ["y", "c"]), ["Add", "Clip", "Mul", "Div"])
    # Other constants are another function.
    check(graph(hard_swish_nodes(), {**HS_CONSTANTS, "three": np.array([2.0])}, ["y"]), ["Add", "Clip", "Mul", "Div"])


def conv_affine(shift_shape: tuple[int, ...] = (1,)) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Mul", ["s", "c"], ["m"]), helper.make_node("Add", ["m", "a"], ["y"])]
    return graph(nodes, {"w": RNG.normal(size=(6, 4, 3, 3)), "b": RNG.normal(size=6), "s": np.array([0.7]),
                         "a": np.full(shift_shape, -1.3)}, ["y"])


def test_affine_after_a_conv_folds_into_it() -> None:
    assert check(conv_affine(), ["Conv"])["affine_after_conv"] == 1
    check(conv_affine(shift_shape=(1, 6, 1, 1)), ["Conv", "Mul", "Add"])  # per channel: not a scalar, kept
    model = conv_affine()
    model.graph.node.append(helper.make_node("Relu", ["m"], ["r"]))  # the Mul's output read twice: kept
    model.graph.output.append(helper.make_tensor_value_info("r", TensorProto.FLOAT, ["n", "c", "h", "w"]))
    check(model, ["Conv", "Mul", "Add", "Relu"])


def affine_before_conv(kernel: int, pads: int, group: int = 1) -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Mul", ["h", "s"], ["m"]),
             helper.make_node("Add", ["a", "m"], ["z"]),
             helper.make_node("Conv", ["z", "w", "b"], ["y"], pads=[pads] * 4, group=group)]
    return graph(nodes, {"w": RNG.normal(size=(6, 4 // group, kernel, kernel)), "b": RNG.normal(size=6),
                         "s": np.array(1.9), "a": np.array([0.4])}, ["y"])


def test_affine_before_an_unpadded_pointwise_conv_folds_into_it() -> None:
    assert check(affine_before_conv(1, 0), ["Relu", "Conv"])["affine_into_pointwise_conv"] == 1
    # Padding would see the shift missing at the border, and a 3x3 or grouped conv is not folded.
    check(affine_before_conv(1, 1), ["Relu", "Mul", "Add", "Conv"])
    check(affine_before_conv(3, 0), ["Relu", "Mul", "Add", "Conv"])
    check(affine_before_conv(1, 0, group=2), ["Relu", "Mul", "Add", "Conv"])


def test_rewrites_chain_and_keep_the_graph_sorted() -> None:
    """A conv whose folded affine feeds a hard-swish whose output feeds another affine and a 1x1 conv: all three
    rewrites apply to one graph, in SSA order."""
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["conv1"]), helper.make_node("Mul", ["conv1", "s1"], ["m1"]),
             helper.make_node("Add", ["m1", "a1"], ["h"]), *hard_swish_nodes("h", "g"),
             helper.make_node("Mul", ["g", "s2"], ["m2"]), helper.make_node("Add", ["m2", "a2"], ["z"]),
             helper.make_node("Conv", ["z", "w2", "b2"], ["y"])]
    constants = {"w1": RNG.normal(size=(4, 4, 1, 1)), "b1": RNG.normal(size=4), "s1": np.array([1.1]),
                 "a1": np.array([0.2]), "s2": np.array([0.9]), "a2": np.array([-0.3]),
                 "w2": RNG.normal(size=(3, 4, 1, 1)), "b2": RNG.normal(size=3), **HS_CONSTANTS}
    counts = check(graph(nodes, constants, ["y"]), ["Conv", "HardSigmoid", "Mul", "Conv"])
    assert {k: v for k, v in counts.items() if v} == {"hard_swish": 1, "affine_after_conv": 1,
                                                     "affine_into_pointwise_conv": 1}
