"""One parser per naming scheme: a zoo's MobileNetV2 name -> its ``MobileNetV2Spec``.

=============  ==========================================  ===============
scheme         examples                                    parser
=============  ==========================================  ===============
torchvision    mobilenet_v2                                ``torchvision``
timm           mobilenetv2_100, mobilenetv2_110d(.ra_in1k)  ``timm``
=============  ==========================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.mobilenet_v2.spec import MobileNetV2Spec

#: timm's ``d`` models: width -> depth multiplier (with fixed stem and head)
_TIMM_DEEPER = {110: 1.2, 120: 1.4}
_TIMM = re.compile(r"^mobilenetv2_(\d{3})(d?)$")


def torchvision(name: str) -> MobileNetV2Spec:
    """``mobilenet_v2`` (width 1.0; torchvision publishes no other width)."""
    if name != "mobilenet_v2":
        raise ValueError(f"{name!r} is not a torchvision MobileNetV2 name")
    return MobileNetV2Spec()


def timm(name: str) -> MobileNetV2Spec:
    """``mobilenetv2_<width x 100>`` and the deeper ``mobilenetv2_110d`` / ``_120d``; a pretrained
    tag (``.ra_in1k``) is ignored."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m:
        raise ValueError(f"{name!r} is not a timm MobileNetV2 name")
    percent, deeper = int(m[1]), bool(m[2])
    if deeper and percent not in _TIMM_DEEPER:
        raise ValueError(f"timm has no deeper MobileNetV2 of width {percent / 100}: {name!r}")
    if not deeper:
        return MobileNetV2Spec(width=percent / 100)
    return MobileNetV2Spec(width=percent / 100, depth=_TIMM_DEEPER[percent], fix_stem_head=True)
