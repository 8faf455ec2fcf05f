"""One parser per naming scheme: a zoo's ConvNeXt-V2 name -> its ``ConvNeXtV2Spec``.

=============  ================================================  ===============
scheme         examples                                          parser
=============  ================================================  ===============
timm           convnextv2_atto, convnextv2_huge                  ``timm``
mmpretrain     convnext-v2-atto_fcmae-pre_3rdparty_in1k,         ``mmpretrain``
               convnext-v2-huge_fcmae-in21k-pre_3rdparty_in1k-512px
=============  ================================================  ===============

timm's atto to nano compute their pointwise layers as 1x1 convolutions, mmpretrain's as Linear
layers: the same function, one id. A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.convnext.spec import ConvNeXtV2Spec

_V2_SIZES = ("atto", "femto", "pico", "nano", "tiny", "small", "base", "large", "huge")


def timm(name: str) -> ConvNeXtV2Spec:
    """``convnextv2_<size>`` (timm/models/convnext.py); a pretrained tag is ignored."""
    m = re.match(r"^convnextv2_([a-z]+)$", name.split(".", 1)[0])
    if not m or m[1] not in _V2_SIZES:
        raise ValueError(f"{name!r} is not a timm ConvNeXt-V2 name")
    return ConvNeXtV2Spec(size=m[1])


def mmpretrain(config: str) -> ConvNeXtV2Spec:
    """``convnext-v2-<size>_fcmae-[in21k-]pre_3rdparty_in1k[-384px|-512px]`` (configs/convnext_v2)."""
    m = re.match(r"^convnext-v2-([a-z]+)_fcmae-(?:in21k-)?pre_3rdparty_in1k(?:-384px|-512px)?$", config)
    if not m or m[1] not in _V2_SIZES:
        raise ValueError(f"{config!r} is not an mmpretrain ConvNeXt-V2 config name")
    return ConvNeXtV2Spec(size=m[1])
