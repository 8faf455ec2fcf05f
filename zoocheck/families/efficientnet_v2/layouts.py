"""The EfficientNetV2 family's canonical weights under torchvision's and timm's parameter names:
EfficientNet's maps (``families/efficientnet/layouts.py``) of the spec's skeleton. torchvision: a
fused block's units ``features.{s}.{i}.block.0`` (fused) / ``.1`` (project); timm: ``conv`` /
``bn1`` (one conv, ``cn``), ``conv_exp`` / ``bn1``, ``conv_pwl`` / ``bn2`` (``er``)."""

from __future__ import annotations

import numpy as np

from zoocheck.families.efficientnet.layouts import renamed, timm_modules, torchvision_modules
from zoocheck.families.efficientnet_v2.canonical import skeleton
from zoocheck.zoo_registry.types import Architecture


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, torchvision_modules(skeleton(arch.structure)))


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, timm_modules(skeleton(arch.structure)))
