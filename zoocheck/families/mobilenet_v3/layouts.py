"""The MobileNetV3 family's canonical weights (``canonical.py`` names) under torchvision's and
timm's parameter names (the family's ``layouts``, ``families/registry.py``).

==========================  ======================================  ====================================
canonical                   torchvision                             timm
==========================  ======================================  ====================================
``stem.conv`` / ``.bn``     ``features.0.0`` / ``.1``               ``conv_stem`` / ``bn1``
block ``block{n}``          ``features.{n}.block``: its units in    ``blocks.{s}.{i}`` (timm's stages:
                            order, [expand,] depthwise, [SE,]       1, 2, 3, 4, 2, 3 blocks (large), 1,
                            project                                 2, 3, 2, 3 (small))
``expand`` / ``_bn``        ``{k}.0`` / ``{k}.1``                   ``conv_pw`` / ``bn1``
``depthwise`` / ``_bn``     ``{k}.0`` / ``{k}.1``                   ``conv_dw`` / ``bn2`` (``bn1`` in the
                                                                    first, expansion-free block)
``se.reduce`` / ``expand``  ``{k}.fc1`` / ``{k}.fc2``               ``se.conv_reduce`` / ``conv_expand``
``project`` / ``_bn``       ``{k}.0`` / ``{k}.1``                   ``conv_pwl`` / ``bn3`` (``conv_pw`` /
                                                                    ``bn2`` in the first block)
``head.conv`` / ``.bn``     ``features.{N+1}.0`` / ``.1``           ``blocks.{S}.0.conv`` / ``.bn1``
``head.fc1``                ``classifier.0`` (Linear)               ``conv_head`` (1x1 conv)
``fc``                      ``classifier.3``                        ``classifier``
==========================  ======================================  ====================================
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import renamed
from zoocheck.families.mobilenet_v2.layouts import timm_block_units
from zoocheck.families.mobilenet_v3.canonical import blocks
from zoocheck.zoo_registry.types import Architecture

#: timm's stages (blocks per stage) of each table
TIMM_STAGES = {"large": (1, 2, 3, 4, 2, 3), "small": (1, 2, 3, 2, 3)}


def _torchvision_modules(arch: Architecture) -> dict[str, str]:
    units = blocks(arch.structure)
    out = {"stem.conv": "features.0.0", "stem.bn": "features.0.1", "head.conv": f"features.{len(units) + 1}.0",
           "head.bn": f"features.{len(units) + 1}.1", "head.fc1": "classifier.0", "fc": "classifier.3"}  # fmt: skip
    for n, b in enumerate(units, start=1):
        k = 0
        for unit, present in (("expand", b.expand), ("depthwise", True), ("se", b.se), ("project", True)):
            if not present:
                continue
            if unit == "se":
                out.update({f"{b.prefix}.se.reduce": f"features.{n}.block.{k}.fc1", f"{b.prefix}.se.expand": f"features.{n}.block.{k}.fc2"})
            else:
                out.update({f"{b.prefix}.{unit}": f"features.{n}.block.{k}.0", f"{b.prefix}.{unit}_bn": f"features.{n}.block.{k}.1"})
            k += 1
    return out


def _timm_modules(arch: Architecture) -> dict[str, str]:
    spec = arch.structure
    stages = TIMM_STAGES[spec.variant]
    out = {"stem.conv": "conv_stem", "stem.bn": "bn1", "head.conv": f"blocks.{len(stages)}.0.conv", "head.bn": f"blocks.{len(stages)}.0.bn1",
           "head.fc1": "conv_head", "fc": "classifier"}  # fmt: skip
    places = [(stage, index) for stage, count in enumerate(stages) for index in range(count)]
    for b, (stage, index) in zip(blocks(spec), places, strict=True):
        block = f"blocks.{stage}.{index}"
        units = {**timm_block_units(b.expand), "se.reduce": "se.conv_reduce", "se.expand": "se.conv_expand"}
        out.update({f"{b.prefix}.{unit}": f"{block}.{module}" for unit, module in units.items()})
    return out


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, _torchvision_modules(arch))


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, _timm_modules(arch))
