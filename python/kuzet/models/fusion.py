"""Load-time rewrites of a network's graph into an equivalent one that runs faster on ONNX Runtime's CPU EP.

Some exports keep onnxruntime from optimising: weights listed as graph inputs (MXNet exports, e.g.
MobileFace) are treated as values a caller may feed, so batch normalisation is not folded into the
convolutions and nothing is constant-folded; they are made constants. And exports spell out operations that
onnxruntime then runs as separate passes over the activations, which on a CPU cost as much as a small
convolution each:

* ReLU6 as ``Min(Max(x, 0), 6)`` (two passes) -> ``Clip(x, 0, 6)``, which onnxruntime then fuses into the
  convolution before it (MobileFace);
* hard-swish as ``x * Clip(x + 3, 0, 6) / 6`` (four passes) -> ``x * HardSigmoid(x)`` (two);
* a scalar affine after a convolution, ``Conv -> Mul(s) -> Add(a)`` (PPLCNetV3's "learnable affine
  blocks"), folded into the convolution's weights and bias (``W*s``, ``b*s + a``): no pass left;
* the same affine before an unpadded 1x1 convolution (after an activation), folded into that convolution
  (``W*s``, ``b + a * sum(W)``), exact because a 1x1 convolution without padding sees no border.

Each rewrite is an algebraic identity; only float rounding changes (outputs move by about 1e-6 relative). The weights
and the file are those of the registered model (its sha256 is checked before): the rewritten graph lives in
memory only. Patterns that do not match exactly (a shared intermediate, a non-scalar constant, a graph output
in the middle) are left as they are. tests/test_models_fusion.py checks every registered model against its
original.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


class _Graph:
    """Read access to a graph's constants and consumers, and the edits queued on it."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.graph = model.graph
        # Constant tensors by name (initializers and Constant nodes), read as arrays only when asked for.
        self.tensors: dict[str, onnx.TensorProto] = {i.name: i for i in self.graph.initializer}
        for node in self.graph.node:
            if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
                self.tensors[node.output[0]] = node.attribute[0].t
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.graph.node:
            for name in node.input:
                self.consumers[name].append(node)
        self.producer = {o: n for n in self.graph.node for o in n.output}
        self.outputs = {o.name for o in self.graph.output}
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        # Nodes are named by their first output (unique: ONNX graphs are in SSA form).
        self.replaced: dict[str, onnx.NodeProto] = {}  # node -> the node that takes its place
        self.removed: set[str] = set()
        self.serial = len(self.graph.initializer)  # new names stay unique across rewrites

    def nodes(self, op_type: str) -> list[onnx.NodeProto]:
        """The graph's nodes of one type, as they are before this rewrite's edits."""
        return [n for n in self.graph.node if n.op_type == op_type]

    def only_consumer(self, name: str, op_type: str) -> onnx.NodeProto | None:
        """The single node reading `name` if it is an `op_type` (and `name` is not a graph output)."""
        readers = self.consumers.get(name, [])
        if len(readers) != 1 or readers[0].op_type != op_type or name in self.outputs:
            return None
        return readers[0]

    def constant(self, name: str) -> np.ndarray | None:
        tensor = self.tensors.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def scalar(self, name: str) -> float | None:
        """The value of a float32 scalar constant (shape () or (1,): it broadcasts without changing the other
        operand's shape), else None."""
        tensor = self.tensors.get(name)
        if tensor is None or tensor.data_type != onnx.TensorProto.FLOAT or list(tensor.dims) not in ([], [1]):
            return None
        return float(numpy_helper.to_array(tensor).reshape(-1)[0])

    def scalar_operand(self, node: onnx.NodeProto) -> tuple[float, str] | None:
        """(c, x) for a binary node of a float32 scalar constant c and a tensor x, in either order."""
        if len(node.input) != 2:
            return None
        for const, other in (node.input, node.input[::-1]):
            value = self.scalar(const)
            if value is not None and other not in self.tensors:
                return value, other
        return None

    def scalar_affine(self, mul: onnx.NodeProto | None) -> tuple[np.float32, str, onnx.NodeProto, np.float32] | None:
        """(s, x, add, a) when `mul` is Mul(x, scalar s) read only by add = Add(scalar a): x*s + a."""
        scale = None if mul is None or mul.op_type != "Mul" else self.scalar_operand(mul)
        if mul is None or scale is None:
            return None
        add = self.only_consumer(mul.output[0], "Add")
        shift = None if add is None else self.scalar_operand(add)
        if add is None or shift is None:
            return None
        return np.float32(scale[0]), scale[1], add, np.float32(shift[0])

    def untouched(self, *nodes: onnx.NodeProto) -> bool:
        return not any(n.output[0] in self.removed or n.output[0] in self.replaced for n in nodes)

    def add_initializer(self, array: np.ndarray, hint: str) -> str:
        self.serial += 1
        name = f"kuzet_fused_{hint}_{self.serial}"
        self.graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), name))
        return name

    def conv_weights(self, conv: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
        """A float32 Conv's constant weight and bias (zeros when it has none)."""
        weight = self.constant(conv.input[1]) if len(conv.input) > 1 else None
        if weight is None or weight.dtype != np.float32:
            return None
        bias = self.constant(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
        if len(conv.input) > 2 and conv.input[2] and bias is None:
            return None
        return weight, (np.zeros(weight.shape[0], np.float32) if bias is None else bias)

    def commit(self) -> None:
        """Applies the queued edits in place (rebuilding the node list would copy every node, weights in
        Constant nodes included): each replacement takes its node's place, removed nodes go, and so do the
        weights the folds replaced (initializers or Constant nodes), which the session would still parse."""
        if not self.replaced and not self.removed:
            return
        # Removals first: a replacement may take over a removed node's output name (a fold's last node).
        _delete(self.graph.node, lambda n: n.output[0] in self.removed)
        for node in self.graph.node:
            if node.output[0] in self.replaced:
                node.CopyFrom(self.replaced[node.output[0]])
        used = {name for n in self.graph.node for name in n.input} | {i.name for i in self.graph.input} | self.outputs
        _delete(self.graph.node, lambda n: n.op_type == "Constant" and not any(o in used for o in n.output))
        _delete(self.graph.initializer, lambda t: t.name not in used)


def _delete(items: Any, unwanted: Callable[[Any], bool]) -> None:
    """Deletes the unwanted elements of a protobuf repeated field in place (from the end: indices stay valid)."""
    for index in reversed([i for i, item in enumerate(items) if unwanted(item)]):
        del items[index]


def _conv_like(conv: onnx.NodeProto, inputs: list[str], output: str) -> onnx.NodeProto:
    node = helper.make_node("Conv", inputs, [output], name=f"kuzet_conv_{output}")  # names must be unique
    node.attribute.extend(conv.attribute)
    return node


def _attribute(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def weights_as_constants(g: _Graph) -> int:
    """Initializers also listed as graph inputs (overridable, so never folded) -> inputs no more."""
    weights = {i.name for i in g.graph.initializer}
    listed = [i for i in g.graph.input if i.name in weights]
    _delete(g.graph.input, lambda i: i.name in weights)
    return len(listed)


def fuse_relu6(g: _Graph) -> int:
    """Min(Max(x, lo), hi) with scalars lo <= hi -> Clip(x, lo, hi) (the same values, one pass)."""
    count = 0
    attributes = g.opset < 11  # Clip takes its bounds as attributes before opset 11
    for high in g.nodes("Min"):
        upper = g.scalar_operand(high)
        low = None if upper is None else g.producer.get(upper[1])
        lower = None if low is None or low.op_type != "Max" else g.scalar_operand(low)
        if upper is None or low is None or lower is None or lower[0] > upper[0] or \
                g.only_consumer(low.output[0], "Min") is None or not g.untouched(low, high):  # (that Min is high)
            continue
        x = lower[1]
        if attributes:
            clip = helper.make_node("Clip", [x], [high.output[0]], min=lower[0], max=upper[0])
        else:
            bounds = [g.add_initializer(np.array(v, np.float32), "clip") for v in (lower[0], upper[0])]
            clip = helper.make_node("Clip", [x, *bounds], [high.output[0]])
        g.replaced[high.output[0]] = clip
        g.removed.add(low.output[0])
        count += 1
    return count


def fuse_hard_swish(g: _Graph) -> int:
    """x * Clip(x + 3, 0, 6) / 6 -> Mul(x, HardSigmoid(x, 1/6, 1/2))."""
    count = 0
    for add in g.nodes("Add"):
        operand = g.scalar_operand(add)
        if operand is None or operand[0] != 3.0:
            continue
        x = operand[1]
        clip = g.only_consumer(add.output[0], "Clip")
        if clip is None or len(clip.input) != 3 or clip.attribute or g.scalar(clip.input[1]) != 0.0 or \
                g.scalar(clip.input[2]) != 6.0:
            continue
        mul = g.only_consumer(clip.output[0], "Mul")
        if mul is None or sorted(mul.input) != sorted([x, clip.output[0]]):
            continue
        div = g.only_consumer(mul.output[0], "Div")
        if div is None or div.input[0] != mul.output[0] or g.scalar(div.input[1]) != 6.0:
            continue
        if not g.untouched(add, clip, mul, div):
            continue
        gate = f"{div.output[0]}_kuzet_gate"
        g.replaced[add.output[0]] = helper.make_node("HardSigmoid", [x], [gate], alpha=1 / 6, beta=0.5)
        g.replaced[div.output[0]] = helper.make_node("Mul", [x, gate], [div.output[0]])
        g.removed |= {clip.output[0], mul.output[0]}
        count += 1
    return count


def fold_affine_after_conv(g: _Graph) -> int:
    """Conv -> Mul(s) -> Add(a) -> Conv with weights W*s and bias b*s + a."""
    count = 0
    for conv in g.nodes("Conv"):
        mul = g.only_consumer(conv.output[0], "Mul")
        affine = g.scalar_affine(mul)
        weights = g.conv_weights(conv)
        if mul is None or affine is None or weights is None or not g.untouched(conv, mul, affine[2]):
            continue
        s, _, add, a = affine
        w, b = weights
        inputs = [conv.input[0], g.add_initializer(w * s, "w"), g.add_initializer(b * s + a, "b")]
        g.replaced[conv.output[0]] = _conv_like(conv, inputs, add.output[0])
        g.removed |= {mul.output[0], add.output[0]}
        count += 1
    return count


def fold_affine_into_pointwise_conv(g: _Graph) -> int:
    """h -> Mul(s) -> Add(a) -> unpadded 1x1 Conv (group 1) -> Conv of h with W*s and b + a * sum(W)."""
    count = 0
    for mul in g.nodes("Mul"):
        affine = g.scalar_affine(mul)
        if affine is None:
            continue
        s, h, add, a = affine
        conv = g.only_consumer(add.output[0], "Conv")
        if conv is None or conv.input[0] != add.output[0]:
            continue
        weights = g.conv_weights(conv)
        pads = list(_attribute(conv, "pads", [0, 0, 0, 0]))  # type: ignore[call-overload]
        auto_pad = _attribute(conv, "auto_pad", b"NOTSET")
        if weights is None or weights[0].shape[2:] != (1, 1) or any(pads) or _attribute(conv, "group", 1) != 1 or \
                auto_pad not in (b"NOTSET", b"VALID", "NOTSET", "VALID") or not g.untouched(mul, add, conv):
            continue
        w, b = weights
        inputs = [h, g.add_initializer(w * s, "w"), g.add_initializer(b + a * w.sum(axis=(1, 2, 3)), "b")]
        g.replaced[conv.output[0]] = _conv_like(conv, inputs, conv.output[0])
        g.removed |= {mul.output[0], add.output[0]}
        count += 1
    return count


REWRITES: dict[str, Callable[[_Graph], int]] = {
    "weights_as_constants": weights_as_constants,
    "relu6": fuse_relu6,
    "hard_swish": fuse_hard_swish,
    "affine_after_conv": fold_affine_after_conv,
    "affine_into_pointwise_conv": fold_affine_into_pointwise_conv,
}


def fuse_elementwise(model: onnx.ModelProto) -> dict[str, int]:
    """Applies the rewrites (module docstring) to `model` in place; returns how often each applied."""
    counts = {}
    for name, rewrite in REWRITES.items():
        g = _Graph(model)  # each rewrite sees the graph the previous one left
        counts[name] = rewrite(g)
        g.commit()
    return counts


def rewritten_model(path: str | os.PathLike[str]) -> bytes:
    """The ONNX file at `path` as kuzet's loader runs it (serialised, for an onnxruntime.InferenceSession)."""
    model = onnx.load(str(path))
    fuse_elementwise(model)
    return model.SerializeToString()


__all__ = ["fuse_elementwise", "rewritten_model", "REWRITES"]
