"""One parser per naming scheme: a zoo's VGG name -> its ``VGGSpec``.

=============  ===========================================  ===============
scheme         examples                                     parser
=============  ===========================================  ===============
torchvision    vgg11, vgg16_bn                              ``torchvision``
timm           vgg16(.tv_in1k), vgg19_bn.tv_in1k            ``timm``
mmpretrain     vgg16_8xb32_in1k, vgg16bn_8xb32_in1k         ``mmpretrain``
PaddleClas     VGG11 .. VGG19                               ``paddleclas``
GluonCV        vgg16, vgg16_bn                              ``gluoncv``
ONNX zoo       vgg16-7, vgg16-bn-7, vgg19-caffe2-9 (files)  ``onnx_zoo``
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


def mmpretrain(config: str) -> VGGSpec:
    """``vgg<depth>[bn]_8xb32_in1k``: torchvision's VGG (conv bias, BN after the conv)."""
    m = re.match(r"^vgg(\d+)(bn)?_8xb32_in1k$", config)
    if not m or int(m[1]) not in STANDARD_LAYERS:
        raise ValueError(f"{config!r} is not an mmpretrain VGG config name")
    return VGGSpec(layers=STANDARD_LAYERS[int(m[1])], batch_norm=bool(m[2]))


def paddleclas(name: str) -> VGGSpec:
    """``VGG11/13/16/19`` (ppcls/arch/backbone/legendary_models/vgg.py): convs without bias, and the
    classifier's dropouts ``downscale_in_infer`` (x0.5 each at evaluation)."""
    m = re.match(r"^VGG(\d+)$", name)
    if not m or int(m[1]) not in STANDARD_LAYERS:
        raise ValueError(f"{name!r} is not a PaddleClas VGG name")
    return VGGSpec(layers=STANDARD_LAYERS[int(m[1])], conv_bias=False, eval_dropout_scale=0.5)


def gluoncv(name: str) -> VGGSpec:
    """``vgg<depth>[_bn]`` (gluoncv/model_zoo/vgg.py): torchvision's names and network."""
    try:
        return torchvision(name)
    except ValueError:
        raise ValueError(f"{name!r} is not a GluonCV VGG name") from None


def onnx_zoo(stem: str) -> VGGSpec:
    """The files ``vgg16-7``, ``vgg16-bn-7``, ``vgg19-7``, ``vgg19-bn-7`` (exported from MXNet Gluon),
    ``vgg16-12[-int8|-qdq]`` and ``vgg19-caffe2-<opset>``."""
    m = re.match(r"^vgg(\d+)(-bn|-caffe2)?-\d+(?:-int8|-qdq)?$", stem)
    if not m or int(m[1]) not in STANDARD_LAYERS:
        raise ValueError(f"{stem!r} is not an ONNX model zoo VGG file")
    return VGGSpec(layers=STANDARD_LAYERS[int(m[1])], batch_norm=m[2] == "-bn")
