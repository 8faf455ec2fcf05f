"""Converter module of the test-only source ``wrong-export``: torchvision's converter, except that
the model named ``resnet18-wrong-<layer>`` exports ``<layer>``'s convolution with its weights
scaled by 1.5 (restored afterwards), so its ONNX file is wrong in exactly that layer while the
framework's forward is right: what a subtly broken exporter does.

When ``WRONG_EXPORT_LAYER_LOG`` names a file, each call of ``layer_outputs`` appends a line to it:
the tests see whether a parity run computed the framework's intermediates (it runs in the
converter's child process)."""

from __future__ import annotations

import os
from pathlib import Path

from zoocheck.converters.torch_common import TorchModel
from zoocheck.converters.torch_hub import TorchvisionConverter

WRONG = "resnet18-wrong-"
LAYER_LOG = "WRONG_EXPORT_LAYER_LOG"


class OneLayerWrongOnExport(TorchModel):
    def __init__(self, native: TorchModel, wrong_layer: str | None):
        super().__init__(native.module, native.input_size, native.versions, layers=native.layers, channels_first=native.channels_first)
        self.wrong_layer = wrong_layer

    def layer_outputs(self, batch):
        if os.environ.get(LAYER_LOG):
            with open(os.environ[LAYER_LOG], "a") as log:
                log.write(f"layer_outputs of {len(batch)} inputs\n")
        return super().layer_outputs(batch)

    def export_onnx(self, path: Path, opset: int) -> None:
        if self.wrong_layer is None:
            return super().export_onnx(path, opset)
        import torch

        conv = self.module.get_submodule(self.wrong_layer)
        saved = conv.weight.detach().clone()
        with torch.no_grad():
            conv.weight.mul_(1.5)
        try:
            super().export_onnx(path, opset)
        finally:
            with torch.no_grad():
                conv.weight.copy_(saved)


class WrongExportConverter(TorchvisionConverter):
    def load(self, entry, weights, *, random_seed=None):
        native = super().load(entry, weights, random_seed=random_seed)
        return OneLayerWrongOnExport(native, entry.name[len(WRONG) :] if entry.name.startswith(WRONG) else None)
