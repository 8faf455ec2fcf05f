"""One parser per naming scheme: a zoo's DenseNet name -> its ``DenseNetSpec``.

=============  ===============================================  ===============
scheme         examples                                         parser
=============  ===============================================  ===============
torchvision    densenet121, densenet161, densenet169, densenet201  ``torchvision``
timm           densenet121(.tv_in1k), densenetblur121d, densenet264d  ``timm``
mmpretrain     densenet121_3rdparty_in1k                        ``mmpretrain``
PaddleClas     DenseNet121 .. DenseNet264                       ``paddleclas``
GluonCV        densenet121, densenet161                         ``gluoncv``
ONNX zoo       densenet-3 .. densenet-12-int8 (files)           ``onnx_zoo``
=============  ===============================================  ===============

A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.densenet.spec import STANDARD, DenseNetSpec

_TIMM = re.compile(r"^densenet(blur)?(\d+)(d?)$")


def torchvision(name: str) -> DenseNetSpec:
    """``densenet121/161/169/201``."""
    m = re.match(r"^densenet(\d+)$", name)
    if not m or int(m[1]) not in STANDARD:
        raise ValueError(f"{name!r} is not a torchvision DenseNet name")
    growth, blocks = STANDARD[int(m[1])]
    return DenseNetSpec(growth_rate=growth, blocks=blocks)


def timm(name: str) -> DenseNetSpec:
    """``densenet<depth>``, the deep-stem ``densenet<depth>d`` and ``densenetblur<depth>d``; a
    pretrained tag is ignored."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m or int(m[2]) not in STANDARD:
        raise ValueError(f"{name!r} is not a timm DenseNet name")
    growth, blocks = STANDARD[int(m[2])]
    # timm's densenet264d has growth 48 where the paper's DenseNet-264 has 32
    if m[2] == "264" and m[3]:
        growth = 48
    return DenseNetSpec(growth_rate=growth, blocks=blocks, stem="deep" if m[3] else "7x7", blur_pool=bool(m[1]))


def _standard(depth: str, zoo: str, name: str) -> DenseNetSpec:
    if int(depth) not in STANDARD:
        raise ValueError(f"{name!r} is not a {zoo} DenseNet name")
    growth, blocks = STANDARD[int(depth)]
    return DenseNetSpec(growth_rate=growth, blocks=blocks)


def mmpretrain(config: str) -> DenseNetSpec:
    """``densenet<depth>_3rdparty_in1k``: torchvision's DenseNets (and weights) in mmpretrain."""
    m = re.match(r"^densenet(\d+)_3rdparty_in1k$", config)
    return _standard(m[1] if m else "0", "mmpretrain", config)


def paddleclas(name: str) -> DenseNetSpec:
    """``DenseNet121/161/169/201/264`` (ppcls/arch/backbone/model_zoo/densenet.py: the paper's)."""
    m = re.match(r"^DenseNet(\d+)$", name)
    return _standard(m[1] if m else "0", "PaddleClas", name)


def gluoncv(name: str) -> DenseNetSpec:
    """``densenet121/161/169/201``: its final ``AvgPool2D(7)`` is the global pool at the 224-pixel
    input of every GluonCV entry."""
    m = re.match(r"^densenet(\d+)$", name)
    return _standard(m[1] if m else "0", "GluonCV", name)


def onnx_zoo(stem: str) -> DenseNetSpec:
    """The files ``densenet-<opset>[-int8]``: the README's DenseNet-121, converted from Caffe2."""
    if not re.match(r"^densenet-\d+(?:-int8|-qdq)?$", stem):
        raise ValueError(f"{stem!r} is not an ONNX model zoo DenseNet file")
    return _standard("121", "ONNX model zoo", stem)
