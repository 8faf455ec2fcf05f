"""One parser per naming scheme: a zoo's DenseNet name -> its ``DenseNetSpec``.

=============  ===============================================  ===============
scheme         examples                                         parser
=============  ===============================================  ===============
torchvision    densenet121, densenet161, densenet169, densenet201  ``torchvision``
timm           densenet121(.tv_in1k), densenetblur121d, densenet264d  ``timm``
=============  ===============================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.densenet.spec import STANDARD, DenseNetSpec

_TIMM = re.compile(r"^densenet(blur)?(\d+)(d?)$")


def torchvision(name: str) -> DenseNetSpec:
    """``densenet121/161/169/201``."""
    m = re.match(r"^densenet(\d+)$", name)
    if not m or int(m[1]) not in STANDARD:
        raise ValueError(f"{name!r} is not a torchvision DenseNet name")
    growth, blocks = STANDARD[int(m[1])]
    return DenseNetSpec(growth_rate=growth, blocks=blocks)


def timm(name: str) -> DenseNetSpec:
    """``densenet<depth>``, the deep-stem ``densenet<depth>d`` and ``densenetblur<depth>d``; a
    pretrained tag is ignored."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m or int(m[2]) not in STANDARD:
        raise ValueError(f"{name!r} is not a timm DenseNet name")
    growth, blocks = STANDARD[int(m[2])]
    # timm's densenet264d has growth 48 where the paper's DenseNet-264 has 32
    if m[2] == "264" and m[3]:
        growth = 48
    return DenseNetSpec(growth_rate=growth, blocks=blocks, stem="deep" if m[3] else "7x7", blur_pool=bool(m[1]))
