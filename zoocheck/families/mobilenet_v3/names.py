"""One parser per naming scheme: a zoo's MobileNetV3 name -> its ``MobileNetV3Spec``.

=============  ===================================================  ===============
scheme         examples                                             parser
=============  ===================================================  ===============
torchvision    mobilenet_v3_large, mobilenet_v3_small               ``torchvision``
timm           mobilenetv3_large_100, mobilenetv3_large_150d,        ``timm``
               tf_mobilenetv3_small_minimal_100, mobilenetv3_rw
mmpretrain     mobilenet-v3-large_8xb128_in1k,                      ``mmpretrain``
               mobilenet-v3-small-050_3rdparty_in1k
PaddleClas     MobileNetV3_large_x1_0, MobileNetV3_small_x0_35_ssld  ``paddleclas``
GluonCV        mobilenetv3_large, mobilenetv3_small                 ``gluoncv``
=============  ===================================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.mobilenet_v3.spec import DEFAULT_BN_EPS, MobileNetV3Spec, round_channels

#: TF's batch-norm epsilon (torchvision's MobileNetV3, timm's ``tf_`` ports and ``mobilenetv3_rw``)
TF_BN_EPS = 1e-3

_TIMM = re.compile(r"^(tf_)?mobilenetv3_(large|small)(_minimal)?_(\d{3})(d?)$")
#: timm's deeper models: width -> depth multiplier
_TIMM_DEEPER = {150: 1.2}


def torchvision(name: str) -> MobileNetV3Spec:
    """``mobilenet_v3_large`` / ``mobilenet_v3_small`` (width 1.0): a Linear head and TF's epsilon."""
    m = re.match(r"^mobilenet_v3_(large|small)$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision MobileNetV3 name")
    return MobileNetV3Spec(variant=m[1], head="linear", bn_eps=TF_BN_EPS)  # type: ignore[arg-type]


def timm(name: str) -> MobileNetV3Spec:
    """``(tf_)mobilenetv3_(large|small)(_minimal)_<width x 100>(d)`` and ``mobilenetv3_rw``; a
    pretrained tag is ignored. timm keeps the stem at 16 channels below width 0.75; its ``tf_`` ports
    use TF's epsilon and "same" padding."""
    arch = name.split(".", 1)[0]
    if arch == "mobilenetv3_rw":
        return MobileNetV3Spec(variant="large_rw", bn_eps=TF_BN_EPS)
    m = _TIMM.match(arch)
    if not m:
        raise ValueError(f"{name!r} is not a timm MobileNetV3 name")
    tf, size, minimal, percent, deeper = bool(m[1]), m[2], bool(m[3]), int(m[4]), bool(m[5])
    if deeper and percent not in _TIMM_DEEPER:
        raise ValueError(f"timm has no deeper MobileNetV3 of width {percent / 100}: {name!r}")
    width = percent / 100
    return MobileNetV3Spec(
        variant=f"{size}_minimal" if minimal else size,  # type: ignore[arg-type]
        width=width,
        depth=_TIMM_DEEPER[percent] if deeper else 1.0,
        stem_channels=16 if width < 0.75 else round_channels(16 * width),
        bn_eps=TF_BN_EPS if tf else DEFAULT_BN_EPS,
        padding="same" if tf else "symmetric",
    )


_MMPRETRAIN = re.compile(r"^mobilenet-v3-(large|small)(?:-(050|075))?_(?:8xb128|3rdparty)_in1k$")


def mmpretrain(config: str) -> MobileNetV3Spec:
    """``mobilenet-v3-(large|small)_...``: torchvision's network (StackedLinearClsHead: Linear head,
    BN eps 1e-3); ``mobilenet-v3-small-050/075_...`` hold timm's ``mobilenetv3_small_050/075``
    weights in the same Linear head (1024 wide, stem 16) with the config's BN eps 1e-5."""
    m = _MMPRETRAIN.match(config)
    if not m:
        raise ValueError(f"{config!r} is not an mmpretrain MobileNetV3 config name")
    if m[2] is None:
        return MobileNetV3Spec(variant=m[1], head="linear", bn_eps=TF_BN_EPS)  # type: ignore[arg-type]
    return MobileNetV3Spec(variant="small", width=int(m[2]) / 100, stem_channels=16, head="linear", head_channels=1024)


_PADDLECLAS = re.compile(r"^MobileNetV3_(large|small)_x(\d)_(\d+)(_ssld)?$")


def paddleclas(name: str) -> MobileNetV3Spec:
    """``MobileNetV3_<large|small>_x<w>_<ww>[_ssld]`` (ppcls/arch/backbone/legendary_models/
    mobilenet_v3.py): a 1x1 conv head to 1280 without bias at every size and width, the SE squeezed
    to ``channels // 4`` and gated by ``hardsigmoid(slope=0.2)``, an expansion conv in every block,
    the head's dropout ``downscale_in_infer`` (x0.8 at evaluation), BN eps 1e-5."""
    m = _PADDLECLAS.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a PaddleClas MobileNetV3 name")
    width = float(f"{m[2]}.{m[3]}")
    return MobileNetV3Spec(
        variant=m[1],
        width=width,
        stem_channels=round_channels(16 * width),  # type: ignore[arg-type]
        head_channels=1280,
        head_bias=False,
        se_gate_slope=0.2,
        se_rounding="floor",
        expand_always=True,
        eval_dropout_scale=0.8,
        expansion="scaled",
    )


def gluoncv(name: str) -> MobileNetV3Spec:
    """``mobilenetv3_large`` / ``mobilenetv3_small`` (gluoncv/model_zoo/mobilenetv3.py): a 1x1 conv
    head to 1280 without bias at both sizes, the classifier a 1x1 conv, BN eps 1e-5."""
    m = re.match(r"^mobilenetv3_(large|small)$", name)
    if not m:
        raise ValueError(f"{name!r} is not a GluonCV MobileNetV3 name")
    return MobileNetV3Spec(variant=m[1], head_channels=1280, head_bias=False, classifier="conv")  # type: ignore[arg-type]
