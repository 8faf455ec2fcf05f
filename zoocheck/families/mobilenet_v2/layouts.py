"""The MobileNetV2 family's canonical weights (``canonical.py`` names) under torchvision's, timm's
and GluonCV's parameter names (the family's ``layouts``, ``families/registry.py``).

=========================  ====================================  ======================================
canonical                  torchvision                           timm
=========================  ====================================  ======================================
``stem.conv`` / ``.bn``    ``features.0.0`` / ``.1``             ``conv_stem`` / ``bn1``
block ``stage{s}.{i}``     ``features.{n}.conv`` (n counts the   ``blocks.{s-1}.{i}``
                           blocks from 1)
``expand`` / ``_bn``       ``conv.0.0`` / ``conv.0.1``           ``conv_pw`` / ``bn1``
``depthwise`` / ``_bn``    ``conv.{e}.0`` / ``.1`` (e = 1 after  ``conv_dw`` / ``bn2`` (``bn1`` without
                           an expansion, else 0)                 an expansion)
``project`` / ``_bn``      ``conv.{e+1}`` / ``conv.{e+2}``       ``conv_pwl`` / ``bn3`` (``conv_pw`` /
                                                                 ``bn2`` without an expansion)
``head.conv`` / ``.bn``    ``features.{n+1}.0`` / ``.1``         ``conv_head`` / ``bn2``
``fc``                     ``classifier.1``                      ``classifier``
=========================  ====================================  ======================================

GluonCV (its MXNet network, ``gluoncv.py``, MXNet's model zoo's with ``expand_first``): ``features.0``
/ ``.1`` the stem conv / BN, ``features.{2+n}.out.{k}`` block n's conv, BN (ReLU6) triples in order,
the head conv / BN after the blocks, ``output.0`` the classifier as a 1x1 conv [classes, features,
1, 1]; batch norms ``gamma`` / ``beta`` / ``running_mean`` / ``running_var``.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import MXNET_BN, renamed
from zoocheck.families.mobilenet_v2.canonical import blocks
from zoocheck.zoo_registry.types import Architecture


def _torchvision_modules(arch: Architecture) -> dict[str, str]:
    units = blocks(arch.structure)
    out = {"stem.conv": "features.0.0", "stem.bn": "features.0.1", "head.conv": f"features.{len(units) + 1}.0",
           "head.bn": f"features.{len(units) + 1}.1", "fc": "classifier.1"}  # fmt: skip
    for n, b in enumerate(units, start=1):
        e = int(b.expand)
        if b.expand:
            out.update({f"{b.prefix}.expand": f"features.{n}.conv.0.0", f"{b.prefix}.expand_bn": f"features.{n}.conv.0.1"})
        out.update(
            {
                f"{b.prefix}.depthwise": f"features.{n}.conv.{e}.0",
                f"{b.prefix}.depthwise_bn": f"features.{n}.conv.{e}.1",
                f"{b.prefix}.project": f"features.{n}.conv.{e + 1}",
                f"{b.prefix}.project_bn": f"features.{n}.conv.{e + 2}",
            }
        )
    return out


def timm_block_units(expand: bool) -> dict[str, str]:
    """Canonical unit -> timm's module of an inverted-residual block (``InvertedResidual``, or
    ``DepthwiseSeparableConv`` without an expansion)."""
    if expand:
        return {
            "expand": "conv_pw",
            "expand_bn": "bn1",
            "depthwise": "conv_dw",
            "depthwise_bn": "bn2",
            "project": "conv_pwl",
            "project_bn": "bn3",
        }
    return {"depthwise": "conv_dw", "depthwise_bn": "bn1", "project": "conv_pw", "project_bn": "bn2"}


def _timm_modules(arch: Architecture) -> dict[str, str]:
    out = {"stem.conv": "conv_stem", "stem.bn": "bn1", "head.conv": "conv_head", "head.bn": "bn2", "fc": "classifier"}
    for b in blocks(arch.structure):
        stage, index = b.prefix.removeprefix("stage").split(".")
        block = f"blocks.{int(stage) - 1}.{index}"
        out.update({f"{b.prefix}.{unit}": f"{block}.{module}" for unit, module in timm_block_units(b.expand).items()})
    return out


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, _torchvision_modules(arch))


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, _timm_modules(arch))


def _gluoncv_modules(arch: Architecture) -> dict[str, str]:
    units = blocks(arch.structure)
    out = {"stem.conv": "features.0", "stem.bn": "features.1", "head.conv": f"features.{len(units) + 3}",
           "head.bn": f"features.{len(units) + 4}", "fc": "output.0"}  # fmt: skip
    for n, b in enumerate(units, start=3):
        parts = (("expand", "expand_bn") if b.expand else ()) + ("depthwise", "depthwise_bn", "project", "project_bn")
        # each conv's BN is followed by a ReLU6 (no parameters) but the projection's
        out.update({f"{b.prefix}.{unit}": f"features.{n}.out.{k + k // 2}" for k, unit in enumerate(parts)})
    return out


def to_gluoncv(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    """GluonCV's MXNet network's names; the classifier's matrix as its 1x1 conv's weight."""
    modules = _gluoncv_modules(arch)
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        if module == "fc" and leaf == "weight":
            value = value.reshape(*value.shape, 1, 1)
        out[f"{modules[module]}.{MXNET_BN[leaf] if f'{module}.running_var' in params else leaf}"] = value
    return out
