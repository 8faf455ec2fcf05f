"""The ResNet family's names in the libraries' schemes: a timm or torchvision model name -> its
``ResNetSpec`` (the zoos' own schemes, MXNet/GluonCV, mmpretrain, PaddleClas and ONNX-zoo files,
are parsed with their parameter naming in ``zoo_registry/names.py``).

timm's letters: 'c' deep stem, 'd' deep stem + avg-pool shortcut, 's' 64-wide deep stem (a bare
name is 'b'); ResNeXt ``resnext50d_32x4d``; wide ``wide_resnet50_2``; torchvision's names are a
subset. A name outside the family, or of a depth without a layer table, raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.resnet.spec import STANDARD_LAYERS, ResNetSpec, resnet

#: timm's layer tables where they differ from the standard one: resnet200/200d follow He et al.
TIMM_LAYERS = {**STANDARD_LAYERS, 200: (3, 24, 36, 3)}

_RESNET = re.compile(r"^(?:tv_)?resnet(\d+)([bcds]?)$")
_RESNEXT = re.compile(r"^resnext(\d+)([cd]?)_(\d+)x(\d+)d$")
_WIDE = re.compile(r"^wide_resnet(\d+)_(\d+)$")


def _parse(name: str, layers: dict[int, tuple[int, ...]]) -> ResNetSpec:
    if m := _RESNET.match(name):
        depth, variant = int(m[1]), m[2] or "b"
        if depth in layers:
            return resnet(depth, variant, layers=layers[depth])
    elif m := _RESNEXT.match(name):
        depth, variant = int(m[1]), m[2] or "b"
        if depth in layers:
            return resnet(depth, variant, groups=int(m[3]), width_per_group=int(m[4]))
    elif m := _WIDE.match(name):
        depth = int(m[1])
        if depth in layers:
            return resnet(depth, width_per_group=64 * int(m[2]))
    raise ValueError(f"{name!r} is not a ResNet-family name zoocheck has a layer table for")


def timm(name: str) -> ResNetSpec:
    return _parse(name, TIMM_LAYERS)


def torchvision(name: str) -> ResNetSpec:
    return _parse(name, STANDARD_LAYERS)
