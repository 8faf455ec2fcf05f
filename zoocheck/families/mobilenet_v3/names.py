"""One parser per naming scheme: a zoo's MobileNetV3 name -> its ``MobileNetV3Spec``.

=============  ===================================================  ===============
scheme         examples                                             parser
=============  ===================================================  ===============
torchvision    mobilenet_v3_large, mobilenet_v3_small               ``torchvision``
timm           mobilenetv3_large_100, mobilenetv3_large_150d,        ``timm``
               tf_mobilenetv3_small_minimal_100, mobilenetv3_rw
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
        width=width, depth=_TIMM_DEEPER[percent] if deeper else 1.0,
        stem_channels=16 if width < 0.75 else round_channels(16 * width),
        bn_eps=TF_BN_EPS if tf else DEFAULT_BN_EPS,
        padding="same" if tf else "symmetric",
    )  # fmt: skip
