"""Checks that a model's graph fits the role it is loaded for, and gives fixed-batch graphs a batch axis."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from kuzet.errors import ModelError


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


# family -> (input rank, input channels, output count or None for "at least one", output ranks, required names)
_CONTRACTS: dict[str, tuple[int, int, int | None, int, set[str]]] = {
    "yunet": (4, 3, 12, 3, {"cls_8", "obj_8", "bbox_8", "kps_8", "cls_32", "kps_32"}),
    "scrfd": (4, 3, 9, 2, set()),  # scores, boxes and keypoints per stride; 2-D or 3-D depending on export
    "retinaface": (4, 3, 3, 3, {"loc", "conf", "iou"}),
    "arcface": (4, 3, 1, 2, set()),
    "y5fu": (4, 3, 1, 3, set()),
    "yolo": (4, 3, None, 3, set()),
    "ppocr_rec": (4, 3, 1, 3, set()),
}


def check_contract(model: onnx.ModelProto, family: str, what: str) -> None:
    """Refuse a graph whose inputs/outputs do not match the family's contract (see docs/models.md)."""
    if family not in _CONTRACTS:
        raise ModelError(f"{what}: unknown model family {family!r}; known: {', '.join(sorted(_CONTRACTS))}")
    in_rank, channels, n_out, out_rank, names = _CONTRACTS[family]
    inputs = graph_inputs(model)
    outputs = list(model.graph.output)
    problems = []
    if len(inputs) != 1:
        problems.append(f"expected 1 input, found {len(inputs)}")
    else:
        dims = _dims(inputs[0])
        if len(dims) != in_rank or (isinstance(dims[1], int) and dims[1] not in (0, channels)):
            problems.append(f"input {inputs[0].name!r} has shape {dims}, expected [N,{channels},H,W]")
        elem = inputs[0].type.tensor_type.elem_type
        if elem != onnx.TensorProto.FLOAT:  # kuzet feeds float32 (fp16=True makes a float16 copy itself)
            problems.append(f"input {inputs[0].name!r} is {onnx.TensorProto.DataType.Name(elem).lower()}, "
                            "expected float (float32)")
    if n_out is not None and len(outputs) != n_out:
        problems.append(f"expected {n_out} outputs, found {len(outputs)}")
    missing = names - {o.name for o in outputs}
    if missing:
        problems.append(f"missing outputs {sorted(missing)}")
    bad_rank = [o.name for o in outputs if _dims(o) and len(_dims(o)) not in (out_rank, 2)]
    if family in ("y5fu", "ppocr_rec", "arcface") and bad_rank:
        problems.append(f"outputs {bad_rank} do not have rank {out_rank}")
    if problems:
        raise ModelError(f"{what} does not fit the {family!r} contract: " + "; ".join(problems))


def make_batch_dynamic(model: onnx.ModelProto) -> bool:
    """Give a graph exported with batch 1 a dynamic batch axis, in place. Returns True if it changed.

    Such exports pin the batch in two places: the declared input/output shapes and the shape constants of
    Reshape nodes (e.g. YOLO heads reshape to [1, -1, 15]). A leading 1 in a Reshape constant becomes 0,
    which ONNX defines as "copy this dimension from the input", i.e. the batch. Tests check that a batch
    gives the same outputs as single images for every registered fixed-batch model.
    """
    inputs = graph_inputs(model)
    if not inputs or _dims(inputs[0])[:1] != [1]:
        return False
    for value in [*inputs, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].dim_param = "batch"
    del model.graph.value_info[:]  # stale intermediate shapes would pin the batch again
    constants: dict[str, onnx.TensorProto] = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    for node in model.graph.node:
        if node.op_type == "Reshape" and node.input[1] in constants:
            tensor = constants[node.input[1]]
            shape = numpy_helper.to_array(tensor).copy()
            if shape.ndim == 1 and shape.size and shape[0] == 1:
                shape[0] = 0
                tensor.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), tensor.name))
    return True
