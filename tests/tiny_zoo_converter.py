"""Converter module of the test-only source ``tiny-zoo``: a global-average-pool + linear classifier.

Its on-disk format is an ``.npz`` of ``weight`` [1000, 3] and ``bias`` [1000] (read without
pickle); its "framework" is numpy and its exporter builds the ONNX graph with ``onnx.helper``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoocheck.converters.base import Converter, NativeModel, WeightsError, check_weights_fit

CLASSES = 1000
SHAPES = {"weight": (CLASSES, 3), "bias": (CLASSES,)}


def write_checkpoint(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    np.savez(
        path, weight=rng.standard_normal(SHAPES["weight"]).astype(np.float32), bias=rng.standard_normal(SHAPES["bias"]).astype(np.float32)
    )
    return Path(path)


class TinyModel(NativeModel):
    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        self.weight, self.bias = weight, bias
        self.versions = {"numpy": np.__version__}

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return batch.mean(axis=(2, 3)) @ self.weight.T + self.bias

    def export_onnx(self, path: Path, opset: int) -> None:
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        graph = helper.make_graph(
            [
                helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
                helper.make_node("Flatten", ["pooled"], ["features"]),
                helper.make_node("Gemm", ["features", "weight", "bias"], ["scores"], transB=1),
            ],
            "tiny_linear",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 56, 56])],
            [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, CLASSES])],
            initializer=[numpy_helper.from_array(self.weight, "weight"), numpy_helper.from_array(self.bias, "bias")],
        )
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))


class TinyConverter(Converter):
    def load(self, entry, weights, *, random_seed=None) -> NativeModel:
        if weights is None:
            rng = np.random.default_rng(random_seed)
            return TinyModel(
                rng.standard_normal(SHAPES["weight"]).astype(np.float32), rng.standard_normal(SHAPES["bias"]).astype(np.float32)
            )
        try:
            with np.load(weights, allow_pickle=False) as arrays:
                state = {k: arrays[k] for k in arrays.files}
        except (OSError, ValueError) as exc:
            raise WeightsError(f"{Path(weights).name}: not a tiny-zoo .npz checkpoint ({exc})") from None
        check_weights_fit(SHAPES, {k: v.shape for k, v in state.items()}, file_name=Path(weights).name, what=entry.key)
        return TinyModel(state["weight"].astype(np.float32), state["bias"].astype(np.float32))
