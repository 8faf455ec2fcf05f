"""mmpretrain (OpenMMLab) ResNet-family ImageNet classifiers, reimplemented in torch.

mmpretrain itself is not imported: its ``ImageClassifier`` (backbone ``ResNet``/``ResNetV1c``/
``ResNetV1d``/``ResNeXt`` + ``GlobalAveragePooling`` neck + ``LinearClsHead``) is rebuilt here module
for module with mmpretrain's own parameter names, so its checkpoints
(``{"meta": ..., "state_dict": {"backbone.*", "head.fc.*"}}``) load by name, strictly. The
structure follows mmpretrain 1.2.0 ``models/backbones/resnet.py`` and ``resnext.py``:

- stem: ``conv1`` 7x7/2 + ``bn1`` + ReLU, or (``deep_stem``, V1c/V1d) ``stem.0..2`` ConvModules
  (``.conv``/``.bn``) 3x3/2 -> stem/2, 3x3 -> stem/2, 3x3 -> stem; then MaxPool 3x3/2 pad 1 (floor);
- style 'pytorch': the stride sits on the 3x3 conv (``conv2``) of a Bottleneck, ``conv1`` of a
  BasicBlock;
- shortcut ``downsample``: [1x1 conv(stride), BN] (indices 0, 1), or with ``avg_down`` (V1d) and
  stride 2: [AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False), 1x1 conv, BN] (0, 1, 2);
- ResNeXt Bottleneck: mid = groups * width_per_group * (out / 4) // base_channels(64), grouped 3x3;
- wide ResNet (configs/wrn): ResNet with base_channels 128, expansion 2;
- ``neck`` GlobalAveragePooling (no parameters), ``head.fc`` Linear.

The other families' mmpretrain networks (MobileNetV2/V3, EfficientNet, EfficientNetV2, DenseNet,
VGG) are their families' (each descriptor's ``networks`` names its
``zoocheck/families/<family>/mmpretrain.py``, built from ``converters/mmpretrain_layers.py``); without canonical weights, their random weights are the
network's own initialisation randomised by ``torch_random.randomize``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from zoocheck.converters.base import TORCH_OPSETS, NativeModel, WeightsError, refuse_unbuilt
from zoocheck.converters.torch_base import TorchConverter
from zoocheck.families.registry import family_of
from zoocheck.families.resnet.spec import BASE_WIDTH, STANDARD_LAYERS, resnet_spec
from zoocheck.zoo_registry.types import Architecture, Entry

# mmpretrain's ResNet.arch_settings / ResNeXt.arch_settings (stage depths: the standard table)
_DEPTHS = {"ResNet": (18, 34, 50, 101, 152), "ResNeXt": (50, 101, 152)}
_BACKBONE_TYPE = {"b": "ResNet", "c": "ResNetV1c", "d": "ResNetV1d"}


def backbone_config(arch: Architecture) -> dict:
    """The mmpretrain backbone config (``type`` + arguments) that ``arch`` corresponds to.

    Raises ValueError for architectures mmpretrain does not build this way."""
    spec = resnet_spec(arch)
    if spec is None:
        raise ValueError(f"mmpretrain builds no {arch.id}")
    if spec.variant not in _BACKBONE_TYPE or spec.project_first:
        raise ValueError(f"mmpretrain has no ResNet variant {arch.id!r} (it builds b: ResNet, c: ResNetV1c, d: ResNetV1d)")
    kind = "ResNeXt" if spec.groups > 1 else "ResNet"
    if spec.depth not in _DEPTHS[kind] or tuple(spec.layers) != STANDARD_LAYERS[spec.depth]:
        raise ValueError(f"mmpretrain has no {kind} of depth {spec.depth} with stages {spec.layers} (supported: {_DEPTHS})")
    cfg: dict = {"type": _BACKBONE_TYPE[spec.variant], "depth": spec.depth}
    if kind == "ResNeXt":
        if spec.variant != "b":
            raise ValueError("mmpretrain's ResNeXt has no deep-stem (c/d) variant")
        cfg.update(type="ResNeXt", groups=spec.groups, width_per_group=spec.width_per_group)
    elif spec.width_per_group != BASE_WIDTH:  # configs/wrn: ResNet with wider bases and expansion 2
        cfg.update(base_channels=spec.width_per_group, expansion=2)
    return cfg


def build_classifier(arch: Architecture):
    """zoocheck's torch module computing mmpretrain's ImageClassifier for ``arch``, eval mode."""
    from zoocheck.converters import _mmpretrain_modules as mm

    backbone_config(arch)  # refuses what mmpretrain does not build
    spec = resnet_spec(arch)
    return mm.ImageClassifier(mm.ResNet(spec), spec.feature_channels, arch.num_classes).eval()


class MMPretrainConverter(TorchConverter):
    opset_range = TORCH_OPSETS

    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        from zoocheck.converters import torch_common as tc
        from zoocheck.converters.weights import layer_modules, to_layout

        family = family_of(entry.arch)
        if family is not None and family.builds_network("mmpretrain"):
            self.prepare(weights, random_seed)
            return self._load_family_network(entry, weights, random_seed, family.network("mmpretrain"))
        refuse_unbuilt(entry, ("resnet",), "mmpretrain network")
        self.prepare(weights, random_seed)
        try:
            describe = f"mmpretrain {backbone_config(entry.arch)['type']} {entry.arch.id} ({entry.arch.num_classes} classes)"
        except ValueError as exc:
            raise WeightsError(f"{entry.key}: {exc}") from None
        if weights is not None:
            with tc.undrawn_parameters():  # every parameter is loaded next
                module = build_classifier(entry.arch)
            _load_checkpoint(module, Path(weights), describe)
        else:
            from zoocheck.converters.weights import random_weights

            with tc.undrawn_parameters():
                module = build_classifier(entry.arch)
            params = to_layout(random_weights(entry.arch, random_seed, entry.input_size), entry.arch, "mmpretrain")
            tc.load_canonical(module, params, origin=f"random weights (seed {random_seed})", what=describe)
        layers = layer_modules(entry.arch, "mmpretrain")
        return tc.TorchModel(module, entry.input_size, {"mmpretrain-compatible": "1.2.0"}, layers=layers)

    @staticmethod
    def _load_family_network(entry: Entry, weights: Path | None, random_seed: int | None, build) -> NativeModel:
        """A family's mmpretrain network (``build(arch)``, NoBuilder for a spec it does not build)
        with the checkpoint's weights, or random: the family's canonical random weights where it
        has an mmpretrain layout, the network's own randomised otherwise."""
        from zoocheck.converters import torch_common as tc
        from zoocheck.converters.torch_random import randomize
        from zoocheck.converters.weights import has_canonical_weights, layer_modules, random_weights, to_layout
        from zoocheck.converters.weights.layouts import channels_first_layers

        laid_out = "mmpretrain" in dict(family_of(entry.arch).layouts)
        loads_every_parameter = weights is not None or (has_canonical_weights(entry.arch) and laid_out)
        with tc.undrawn_parameters() if loads_every_parameter else contextlib.nullcontext():
            module = build(entry.arch)
        describe = f"mmpretrain {type(module.backbone).__name__} {entry.arch.id} ({entry.arch.num_classes} classes)"
        if weights is not None:
            _load_checkpoint(module, Path(weights), describe)
        elif has_canonical_weights(entry.arch) and laid_out:
            params = to_layout(random_weights(entry.arch, random_seed, entry.input_size), entry.arch, "mmpretrain")
            tc.load_canonical(module, params, origin=f"random weights (seed {random_seed})", what=describe)
        else:
            randomize(module, random_seed, entry.input_size)
        layers = layer_modules(entry.arch, "mmpretrain") if laid_out else {}
        channels_first = channels_first_layers(entry.arch, "mmpretrain")
        return tc.TorchModel(module, entry.input_size, {"mmpretrain-compatible": "1.2.0"}, layers=layers, channels_first=channels_first)


def _load_checkpoint(module, path: Path, describe: str) -> None:
    from zoocheck.converters import torch_common as tc

    # mmpretrain keeps the data preprocessor's mean/std as non-persistent buffers, but a checkpoint
    # written by other tooling may carry them; they are not part of the network.
    tc.load_strict(module, tc.read_state_dict(path), path, describe, ignore_prefixes=("data_preprocessor.",))


def write_mmpretrain_checkpoint(entry: Entry, params: dict[str, np.ndarray], path: Path) -> Path:
    from zoocheck.converters.torch_common import save_checkpoint, torch_tensors
    from zoocheck.converters.weights.layouts import to_layout
    from zoocheck.families.registry import all_families

    # a family without an mmpretrain layout would be written under its canonical names, which no
    # mmpretrain network loads
    refuse_unbuilt(
        entry,
        tuple(f.name for f in all_families() if "mmpretrain" in dict(f.layouts)),
        "mmpretrain checkpoint writer (canonical weights under mmpretrain's parameter names)",
        "its random weights come from the network's own randomised initialisation only",
    )
    meta = {"mmpretrain_version": "1.2.0", "note": "zoocheck canonical weights",
            "dataset_meta": {"classes": [str(i) for i in range(entry.arch.num_classes)]}}  # fmt: skip
    return save_checkpoint(torch_tensors(to_layout(params, entry.arch, "mmpretrain")), path, wrapper="state_dict", meta=meta)
