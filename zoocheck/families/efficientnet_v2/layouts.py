"""The EfficientNetV2 family's canonical weights under torchvision's, timm's and mmpretrain's
parameter names: EfficientNet's maps (``families/efficientnet/layouts.py``) of the spec's skeleton
for torchvision (a fused block's units ``features.{s}.{i}.block.0`` (fused) / ``.1`` (project))
and timm (``conv`` / ``bn1`` (one conv, ``cn``), ``conv_exp`` / ``bn1``, ``conv_pwl`` / ``bn2``
(``er``)); mmpretrain's ``backbone.layers.{s}.{i}`` (``mmpretrain.py``: the stem is layer 0, the
head the layer after the last stage), each unit a ConvModule ``.conv`` / ``.bn``."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import renamed
from zoocheck.families.efficientnet.canonical import Skeleton
from zoocheck.families.efficientnet.layouts import timm_modules, torchvision_modules
from zoocheck.families.efficientnet_v2.canonical import skeleton
from zoocheck.zoo_registry.types import Architecture


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, torchvision_modules(skeleton(arch.structure)))


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, timm_modules(skeleton(arch.structure)))


#: mmpretrain's ConvModule of each unit: EnhancedConvModule (one conv), EdgeResidual (fused +
#: project), InvertedResidual
_MMPRETRAIN_CONV_UNITS = {"fused": ""}
_MMPRETRAIN_EDGE_UNITS = {"fused": "conv1.", "project": "conv2."}
_MMPRETRAIN_MBCONV_UNITS = {
    "expand": "expand_conv.",
    "dw": "depthwise_conv.",
    "se.reduce": "se.conv1.",
    "se.expand": "se.conv2.",
    "project": "linear_conv.",
}


def mmpretrain_modules(net: Skeleton) -> dict[str, str]:
    head = f"backbone.layers.{net.blocks[-1].stage + 1}"
    out = {
        "stem.conv": "backbone.layers.0.conv",
        "stem.bn": "backbone.layers.0.bn",
        "head.conv": f"{head}.conv",
        "head.bn": f"{head}.bn",
        "fc": "head.fc",
    }
    for b in net.blocks:
        units = _MMPRETRAIN_MBCONV_UNITS if not b.fused else _MMPRETRAIN_EDGE_UNITS if b.projects else _MMPRETRAIN_CONV_UNITS
        for unit, module in units.items():
            where = f"backbone.layers.{b.stage}.{b.index}.{module}"
            out[f"{b.prefix}.{unit}"] = f"{where}conv"
            if not unit.startswith("se."):
                out[f"{b.prefix}.{unit}_bn"] = f"{where}bn"
    return out


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, mmpretrain_modules(skeleton(arch.structure)))
