"""One parser per naming scheme: a zoo's EfficientNet name -> its ``EfficientNetSpec``.

=============  =========================================================  ===============
scheme         examples                                                   parser
=============  =========================================================  ===============
torchvision    efficientnet_b0 .. efficientnet_b7                         ``torchvision``
timm           efficientnet_b0, tf_efficientnet_b7, tf_efficientnet_l2,   ``timm``
               efficientnet_lite0, tf_efficientnet_lite4, efficientnet_b1_pruned
mmpretrain     efficientnet-b0_3rdparty_8xb32_in1k,                       ``mmpretrain``
               efficientnet-l2_3rdparty-ra-noisystudent_in1k-800px
PaddleClas     EfficientNetB0 .. EfficientNetB7, EfficientNetB0_small     ``paddleclas``
ONNX zoo       efficientnet-lite4-11, efficientnet-lite4-11-int8 (files)  ``onnx_zoo``
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


def mmpretrain(config: str) -> EfficientNetSpec:
    """``efficientnet-<b0..b8|l2>_3rdparty...`` (every mmpretrain EfficientNet holds converted TF
    weights): ``Conv2dAdaptivePadding`` (TF "same"), BN eps 1e-3 (mmpretrain's EfficientNet defaults)."""
    m = re.match(r"^efficientnet-(b\d|l2)_3rdparty[\w-]*_in1k(?:-\d+px)?$", config)
    if not m or m[1] not in SCALES:
        raise ValueError(f"{config!r} is not an mmpretrain EfficientNet config name")
    return EfficientNetSpec(variant=m[1], bn_eps=TF_BN_EPS, padding="same")


def paddleclas(name: str) -> EfficientNetSpec:
    """``EfficientNetB0`` .. ``B7`` (ppcls/arch/backbone/model_zoo/efficientnet.py: TF "same" padding
    at the model's own input size, BN eps 1e-3) and ``EfficientNetB0_small`` (no SE, symmetric
    padding)."""
    m = re.match(r"^EfficientNet(B[0-7])(_small)?$", name)
    if not m or (m[2] and m[1] != "B0"):
        raise ValueError(f"{name!r} is not a PaddleClas EfficientNet name")
    if m[2]:
        return EfficientNetSpec(variant="b0", bn_eps=TF_BN_EPS, squeeze_excitation=False)
    return EfficientNetSpec(variant=m[1].lower(), bn_eps=TF_BN_EPS, padding="same")


def onnx_zoo(stem: str) -> EfficientNetSpec:
    """The files ``efficientnet-lite4-11[-int8|-qdq]``: converted from the TF Lite4 checkpoint (TF
    "same" padding, BN eps 1e-3), as timm's ``tf_efficientnet_lite4``."""
    if not re.match(r"^efficientnet-lite4-\d+(?:-int8|-qdq)?$", stem):
        raise ValueError(f"{stem!r} is not an ONNX model zoo EfficientNet file")
    return EfficientNetSpec(variant="lite4", bn_eps=TF_BN_EPS, padding="same")
