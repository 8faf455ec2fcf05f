"""Converter module of the test-only sources ``wrong-gluon`` and ``wrong-onnx-zoo``: MXNet Gluon's
and the ONNX model zoo's converters, except that the file the exporter writes has the one
initializer whose name ends with ``$WRONG_EXPORT_INITIALIZER`` scaled by 1.5, so the ONNX file is
wrong in exactly the layer that reads it while the framework's forward is right (what
``wrong_export_converter`` does for torch, at the level of the exporter's file: MXNet's and the
zoo's initializers are named by MXNet's blocks, ``..._stage3_conv1_weight``). Without the
variable the export is right."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from zoocheck.converters.base import NativeModel
from zoocheck.converters.gluon import GluonConverter
from zoocheck.converters.onnx_zoo import OnnxZooConverter

INITIALIZER = "WRONG_EXPORT_INITIALIZER"


class WrongInitializerOnExport(NativeModel):
    """``native`` itself, but for the scaled initializer in what it exports."""

    def __init__(self, native: NativeModel):
        self.native = native
        self.versions = native.versions
        self.outputs_probabilities = native.outputs_probabilities

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.native.forward(batch)

    def layer_outputs(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        return self.native.layer_outputs(batch)

    def export_onnx(self, path: Path, opset: int) -> None:
        import onnx
        from onnx import numpy_helper

        self.native.export_onnx(path, opset)
        suffix = os.environ.get(INITIALIZER)
        if not suffix:
            return
        model = onnx.load(str(path))
        [index] = [i for i, t in enumerate(model.graph.initializer) if t.name.endswith(suffix)]
        tensor = model.graph.initializer[index]
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor) * np.float32(1.5), tensor.name))
        onnx.save(model, str(path))


class WrongGluonConverter(GluonConverter):
    def load(self, entry, weights, *, random_seed=None):
        return WrongInitializerOnExport(super().load(entry, weights, random_seed=random_seed))


class WrongOnnxZooConverter(OnnxZooConverter):
    def load(self, entry, weights, *, random_seed=None):
        return WrongInitializerOnExport(super().load(entry, weights, random_seed=random_seed))
