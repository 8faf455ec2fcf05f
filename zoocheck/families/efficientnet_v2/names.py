"""One parser per naming scheme: a zoo's EfficientNetV2 name -> its ``EfficientNetV2Spec``.

=============  ====================================================  ===============
scheme         examples                                              parser
=============  ====================================================  ===============
torchvision    efficientnet_v2_s, efficientnet_v2_m, efficientnet_v2_l  ``torchvision``
timm           tf_efficientnetv2_s, tf_efficientnetv2_b3,            ``timm``
               efficientnetv2_rw_t, gc_efficientnetv2_rw_t
mmpretrain     efficientnetv2-s_3rdparty_in1k,                       ``mmpretrain``
               efficientnetv2-xl_in21k-pre_3rdparty_in1k
=============  ====================================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.efficientnet_v2.spec import VARIANTS, EfficientNetV2Spec

#: TF's batch-norm epsilon (torchvision's EfficientNetV2 and timm's ``tf_`` ports)
TF_BN_EPS = 1e-3

_TIMM = re.compile(r"^(tf_|gc_)?efficientnetv2_(\w+)$")


def torchvision(name: str) -> EfficientNetV2Spec:
    """``efficientnet_v2_s/m/l``: TF's epsilon, symmetric padding."""
    m = re.match(r"^efficientnet_v2_([sml])$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision EfficientNetV2 name")
    return EfficientNetV2Spec(variant=m[1], bn_eps=TF_BN_EPS)


def timm(name: str) -> EfficientNetV2Spec:
    """``tf_efficientnetv2_<s|m|l|xl|b0..b3>`` (TF's epsilon and "same" padding),
    ``efficientnetv2_<s|m|l|xl|rw_t|rw_s|rw_m>`` (timm's own) and ``gc_efficientnetv2_rw_t``
    (global-context attention); a pretrained tag is ignored."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m or m[2] not in VARIANTS:
        raise ValueError(f"{name!r} is not a timm EfficientNetV2 name")
    prefix, variant = m[1], m[2]
    if prefix == "tf_":
        return EfficientNetV2Spec(variant=variant, bn_eps=TF_BN_EPS, padding="same")
    return EfficientNetV2Spec(variant=variant, attention="gc" if prefix == "gc_" else "se")


def mmpretrain(config: str) -> EfficientNetV2Spec:
    """``efficientnetv2-<b0..b3|s|m|l|xl>_[in21k-pre_]3rdparty_in1k``: timm's ``tf_efficientnetv2_*``
    weights in mmpretrain's EfficientNetV2 (``Conv2dAdaptivePadding``, BN eps 1e-3)."""
    m = re.match(r"^efficientnetv2-(\w+?)_(?:in21k-pre_)?3rdparty_in1k$", config)
    if not m or m[1] not in VARIANTS or m[1].startswith("rw"):
        raise ValueError(f"{config!r} is not an mmpretrain EfficientNetV2 config name")
    return EfficientNetV2Spec(variant=m[1], bn_eps=TF_BN_EPS, padding="same")
