"""One parser per naming scheme: a zoo's MobileNetV2 name -> its ``MobileNetV2Spec``.

=============  ==========================================  ===============
scheme         examples                                    parser
=============  ==========================================  ===============
torchvision    mobilenet_v2                                ``torchvision``
timm           mobilenetv2_100, mobilenetv2_110d(.ra_in1k)  ``timm``
mmpretrain     mobilenet-v2_8xb32_in1k                     ``mmpretrain``
PaddleClas     MobileNetV2, MobileNetV2_x0_25, .._ssld     ``paddleclas``
GluonCV        mobilenetv2_1.0, mobilenetv2_0.25           ``gluoncv``
ONNX zoo       mobilenetv2-7, mobilenetv2-12-int8 (files)  ``onnx_zoo``
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


def mmpretrain(config: str) -> MobileNetV2Spec:
    """``mobilenet-v2_8xb32_in1k``: mmpretrain's MobileNetV2 is torchvision's (``make_divisible``
    channels, ReLU6, BN eps 1e-5, a Linear head)."""
    if not re.match(r"^mobilenet-v2_8xb32_in1k$", config):
        raise ValueError(f"{config!r} is not an mmpretrain MobileNetV2 config name")
    return MobileNetV2Spec()


_PADDLECLAS = re.compile(r"^MobileNetV2(?:_x(\d)_(\d+))?(_ssld)?$")


def paddleclas(name: str) -> MobileNetV2Spec:
    """``MobileNetV2``, ``MobileNetV2_x<w>_<ww>`` (``_ssld``: distilled weights, the same network):
    ppcls/arch/backbone/model_zoo/mobilenet_v2.py truncates ``int(c * scale)`` and gives the first
    block an expansion conv."""
    m = _PADDLECLAS.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a PaddleClas MobileNetV2 name")
    width = float(f"{m[1]}.{m[2]}") if m[1] else 1.0
    return MobileNetV2Spec(width=width, channel_rounding="truncate", expand_first=True)


def gluoncv(name: str) -> MobileNetV2Spec:
    """``mobilenetv2_<width>`` (gluoncv/model_zoo/mobilenet.py, MXNet's own model zoo alike): channels
    ``int(c * multiplier)``, the classifier a 1x1 conv without bias."""
    m = re.match(r"^mobilenetv2_(\d\.\d+)$", name)
    if not m:
        raise ValueError(f"{name!r} is not a GluonCV MobileNetV2 name")
    return MobileNetV2Spec(width=float(m[1]), channel_rounding="truncate", classifier="conv_nobias")


def onnx_zoo(stem: str) -> MobileNetV2Spec:
    """The zoo's files ``mobilenetv2-<opset>[-int8|-qdq]``. ``mobilenetv2-7`` is MXNet Gluon's model
    zoo MobileNetV2 1.0 as the zoo's train_mobilenet.ipynb defines it (output
    ``mobilenetv20_output_flatten0_reshape0``): GluonCV's but for the first block's 1x1 expansion
    conv (``LinearBottleneck`` adds it whatever the expansion; DirectML's sample built from this file
    reads ``linearbottleneck0_conv0`` [32, 32, 1, 1]). The opset-10 file and the opset-12 ones
    quantised from it are PyTorch exports (input ``input`` [batch_size, 3, 224, 224], output
    ``output``; onnx/models#410) of torchvision's network."""
    m = re.match(r"^mobilenetv2-(\d+)(?:-int8|-qdq)?$", stem)
    if not m:
        raise ValueError(f"{stem!r} is not an ONNX model zoo MobileNetV2 file")
    if int(m[1]) < 10:
        return MobileNetV2Spec(channel_rounding="truncate", expand_first=True, classifier="conv_nobias")
    return torchvision("mobilenet_v2")
