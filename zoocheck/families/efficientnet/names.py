"""One parser per naming scheme: a zoo's EfficientNet name -> its ``EfficientNetSpec``.

=============  =========================================================  ===============
scheme         examples                                                   parser
=============  =========================================================  ===============
torchvision    efficientnet_b0 .. efficientnet_b7                         ``torchvision``
timm           efficientnet_b0, tf_efficientnet_b7, tf_efficientnet_l2,   ``timm``
               efficientnet_lite0, tf_efficientnet_lite4, efficientnet_b1_pruned
=============  =========================================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.efficientnet.spec import SCALES, EfficientNetSpec

#: TF's batch-norm epsilon
TF_BN_EPS = 1e-3
#: torchvision builds B5-B7 (weights ported from TF) with TF's epsilon, B0-B4 with PyTorch's
_TORCHVISION_TF_EPS = ("b5", "b6", "b7")

_TIMM = re.compile(r"^(tf_)?efficientnet_(b\d|l2|lite\d|b\d_pruned)$")


def torchvision(name: str) -> EfficientNetSpec:
    """``efficientnet_b0`` .. ``efficientnet_b7``: symmetric padding; TF's epsilon for B5-B7."""
    m = re.match(r"^efficientnet_(b[0-7])$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision EfficientNet name")
    if m[1] in _TORCHVISION_TF_EPS:
        return EfficientNetSpec(variant=m[1], bn_eps=TF_BN_EPS)
    return EfficientNetSpec(variant=m[1])


def timm(name: str) -> EfficientNetSpec:
    """``(tf_)efficientnet_<b0..b8|l2|lite0..4>`` and ``efficientnet_b1/b2/b3_pruned``; a pretrained tag
    is ignored. The ``tf_`` ports and the pruned models use TF's epsilon and "same" padding."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m or m[2] not in SCALES:
        raise ValueError(f"{name!r} is not a timm EfficientNet name")
    if m[1] or m[2].endswith("_pruned"):
        return EfficientNetSpec(variant=m[2], bn_eps=TF_BN_EPS, padding="same")
    return EfficientNetSpec(variant=m[2])
