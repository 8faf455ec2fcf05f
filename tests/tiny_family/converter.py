"""The converter of the two test-only tiny-family sources: the network in torch, under the source's
layout (``tiny-torch``: the canonical names; ``tiny-seq``: an ``nn.Sequential``), and the
checkpoint writer of each."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from zoocheck.converters.base import TORCH_OPSETS, NativeModel
from zoocheck.converters.torch_base import TorchConverter

LAYOUT = {"tiny-torch": "torch", "tiny-seq": "tiny_seq"}


def network(entry):
    from torch import nn

    width, classes = entry.arch.structure.width, entry.arch.num_classes
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
              nn.Conv2d(width, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]  # fmt: skip
    if entry.source == "tiny-seq":
        parts = {
            "features": nn.Sequential(*layers),
            "pool": nn.AdaptiveAvgPool2d(1),
            "flatten": nn.Flatten(),
            "classifier": nn.Linear(width, classes),
        }
        return nn.Sequential(OrderedDict(parts)).eval()

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1, _, self.conv2, self.bn2, _ = layers
            self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(width, classes)

        def forward(self, x):
            x = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu())).relu()
            return self.fc(self.pool(x).flatten(1))

    return TinyNet().eval()


class TinyFamilyConverter(TorchConverter):
    opset_range = TORCH_OPSETS

    def load(self, entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        import torch

        from zoocheck.converters import torch_common as tc
        from zoocheck.converters.weights import layer_modules, random_weights, to_layout

        self.prepare(weights, random_seed)
        module, layout = network(entry), LAYOUT[entry.source]
        what = f"{entry.source} {entry.name}"
        if weights is not None:
            tc.load_strict(module, tc.read_state_dict(Path(weights)), Path(weights), what)
        else:
            params = to_layout(random_weights(entry.arch, random_seed, entry.input_size), entry.arch, layout)
            tc.load_canonical(module, params, origin=f"random weights (seed {random_seed})", what=what)
        return tc.TorchModel(module, entry.input_size, {"torch": torch.__version__}, layers=layer_modules(entry.arch, layout))


def write_checkpoint(entry, params, path: Path) -> Path:
    from zoocheck.converters.torch_common import save_checkpoint, torch_tensors
    from zoocheck.converters.weights import to_layout

    return save_checkpoint(torch_tensors(to_layout(params, entry.arch, LAYOUT[entry.source])), path)
