"""Tiny ONNX models in the real components' shapes, written by the tests (never downloaded, never faked
as the real thing): an ArcFace-shaped recogniser and a U^2-Net-shaped segmenter."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_tiny_arcface(path: Path) -> Path:
    """(N, 3, 112, 112) -> (N, 512), like insightface's ``w600k_r50.onnx``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.normal(size=(8, 3, 8, 8)).astype(np.float32), "w")
    g = numpy_helper.from_array(rng.normal(size=(8, 512)).astype(np.float32), "g")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input.1", "w"], ["c"], strides=[8, 8]),
         helper.make_node("GlobalAveragePool", ["c"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("MatMul", ["f", "g"], ["683"])],
        "tiny_arcface",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [None, 3, 112, 112])],
        [helper.make_tensor_value_info("683", TensorProto.FLOAT, [None, 512])],
        [w, g],
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def write_tiny_segmenter(path: Path, garbage: bool = False) -> None:
    """A U^2-Net-shaped ONNX model (1x3x320x320 -> 1x1x320x320) that 'segments' by the red channel."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    path.parent.mkdir(parents=True, exist_ok=True)
    if garbage:
        path.write_bytes(b"not an onnx model")
        return
    w = numpy_helper.from_array(np.array([1.0, 0.0, 0.0], np.float32).reshape(1, 3, 1, 1), "w")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input.1", "w"], ["c"]), helper.make_node("Sigmoid", ["c"], ["1959"])],
        "tiny_u2net",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, 320, 320])],
        [helper.make_tensor_value_info("1959", TensorProto.FLOAT, [1, 1, 320, 320])],
        [w],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


