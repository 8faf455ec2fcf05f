"""The DenseNet family's canonical weights (``canonical.py`` names) under torchvision's and timm's
parameter names (the family's ``layouts``, ``families/registry.py``): one scheme for both, timm's
DenseNet being torchvision's.

==========================  ===========================================================
canonical                   torchvision / timm
==========================  ===========================================================
``stem.conv{k}``            ``features.conv{k-1}`` (7x7 stem: ``features.conv0``)
``stem.bn{k}``              ``features.norm{k-1}``
``stem.pool``               ``features.pool0``
``block{b}.{i}.<unit>``     ``features.denseblock{b}.denselayer{i+1}.<norm1|conv1|norm2|conv2>``
``transition{b}.<unit>``    ``features.transition{b}.<norm|conv|pool>``
``head.bn``                 ``features.norm5``
``fc``                      ``classifier``
==========================  ===========================================================
"""

from __future__ import annotations

import numpy as np

from zoocheck.zoo_registry.types import Architecture

_UNITS = {"bn1": "norm1", "conv1": "conv1", "bn2": "norm2", "conv2": "conv2", "bn": "norm", "conv": "conv", "pool": "pool"}


def _module(name: str) -> str:
    head, _, unit = name.rpartition(".")
    if name == "stem.pool":
        return "features.pool0"
    if head == "stem":
        return f"features.{'norm' if unit.startswith('bn') else 'conv'}{int(unit[-1]) - 1}"
    if head == "head":
        return "features.norm5"
    if name == "fc":
        return "classifier"
    if head.startswith("transition"):
        return f"features.{head}.{_UNITS[unit]}"
    block, index = head.split(".")
    return f"features.dense{block}.denselayer{int(index) + 1}.{_UNITS[unit]}"


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    out = {}
    for name, value in params.items():
        module, leaf = name.rsplit(".", 1)
        out[f"{_module(module)}.{leaf}"] = value
    return out


to_timm = to_torchvision
