"""One parser per naming scheme: a zoo's VGG name -> its ``VGGSpec``.

=============  ===========================================  ===============
scheme         examples                                     parser
=============  ===========================================  ===============
torchvision    vgg11, vgg16_bn                              ``torchvision``
timm           vgg16(.tv_in1k), vgg19_bn.tv_in1k            ``timm``
=============  ===========================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.vgg.spec import STANDARD_LAYERS, VGGSpec

_NAME = re.compile(r"^vgg(\d+)(_bn)?$")


def torchvision(name: str) -> VGGSpec:
    """``vgg<11|13|16|19>`` and ``vgg<...>_bn``."""
    m = _NAME.match(name)
    if not m or int(m[1]) not in STANDARD_LAYERS:
        raise ValueError(f"{name!r} is not a torchvision VGG name")
    return VGGSpec(layers=STANDARD_LAYERS[int(m[1])], batch_norm=bool(m[2]))


def timm(name: str) -> VGGSpec:
    """timm's names are torchvision's (a pretrained tag is ignored)."""
    try:
        return torchvision(name.split(".", 1)[0])
    except ValueError:
        raise ValueError(f"{name!r} is not a timm VGG name") from None
