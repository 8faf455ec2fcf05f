"""One parser per naming scheme: a zoo's model name -> the Architecture it denotes.

Every module that needs to know what a name means (the registry's source tables, the torchvision/
timm converters' ``resolve`` of unlisted names, tests) calls these; nothing else parses names.
Converters never parse names: they read ``Entry.arch`` and ``Entry.naming``.

=============  ===================================================  =====================================
scheme         examples                                             parser
=============  ===================================================  =====================================
timm-style     resnet50, resnet50d, resnext50d_32x4d, mobilenetv2_100, ``timm_style``: each family's
               resnetv2_50x1_bit (a library's network)              ``timm`` / ``torchvision`` parser
MXNet/GluonCV  resnet50_v1, resnet50_v2, resnet50_v1b/c/d/s,        ``gluon_style``
               resnext101_64x4d, resnet50_v1b_gn
mmpretrain     resnetv1d50_8xb32_in1k, resnext101-32x8d_8xb32_in1k  ``mmpretrain_config``
PaddleClas     ResNet50_vd_ssld, ResNeXt101_vd_32x4d,               ``paddleclas``
               ResNeXt101_32x8d_wsl, Fix_ResNet50_vd_ssld
ONNX zoo       resnet50-v1-7, resnet50-caffe2-v1-9, resnet50-v1-12  ``onnx_zoo_file``
=============  ===================================================  =====================================

Any ONNX-zoo file's stem ends in its opset and quantisation (``vgg16-12-int8``): ``onnx_zoo_suffix``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from zoocheck.families.registry import all_families
from zoocheck.families.resnet.spec import resnet
from zoocheck.zoo_registry.types import Architecture, LibraryNetwork


class UnknownName(ValueError):
    """A name that is not of the naming scheme its parser reads."""


# --- timm / torchvision ------------------------------------------------------------------------


def timm_style(name: str, library: str = "timm", num_classes: int = 1000) -> Architecture:
    """The architecture of a timm or torchvision model name: the spec of the family whose parser
    for ``library``'s names reads it (``families/<family>/names.py``), else (never failing) the
    network ``library`` builds by that name."""
    for family in all_families():
        try:
            return Architecture(family.parse(library, name), num_classes)
        except ValueError:
            continue
    return Architecture(LibraryNetwork(library, name), num_classes)


# --- MXNet Gluon model zoo and GluonCV ---------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """An architecture and the parameter-naming scheme the source's checkpoints of it use."""

    arch: Architecture
    naming: str


_GLUON_RESNET = re.compile(r"^resnet(\d+)_v(1|2)([bcds])?$")
_GLUON_RESNEXT = re.compile(r"^resnext(\d+)_(\d+)x(\d+)d$")


def gluon_style(name: str) -> Parsed:
    """An MXNet Gluon model-zoo or GluonCV name.

    ``resnetNN_v1`` / ``_v2``: MXNet's model-zoo networks (naming 'gluon'; GluonCV's resnet.py holds
    the same classes); ``resnetNN_v1b/c/d/s``: GluonCV's ResNetV1b (naming 'resnetv1b'; v1b = 'b',
    v1s = the 64-wide deep stem); ``resnextNN_GxWd``: GluonCV's ResNext (naming 'resnext');
    ``resnet50_v1b_gn``: ResNetV1b with GroupNorm, which is timm's resnet50_gn."""
    if name == "resnet50_v1b_gn":
        return Parsed(Architecture(LibraryNetwork("timm", "resnet50_gn")), "resnetv1b")
    if m := _GLUON_RESNET.match(name):
        depth, version, letter = int(m[1]), m[2], m[3]
        if letter is None:
            return Parsed(Architecture(resnet(depth, f"v{version}")), "gluon")
        if version == "1":
            return Parsed(Architecture(resnet(depth, letter)), "resnetv1b")
    if m := _GLUON_RESNEXT.match(name):
        return Parsed(Architecture(resnet(int(m[1]), groups=int(m[2]), width_per_group=int(m[3]))), "resnext")
    raise UnknownName(f"{name!r} is not an MXNet Gluon / GluonCV ResNet name (resnetNN_v1/v2, resnetNN_v1b/c/d/s, resnextNN_GxWd)")


# --- mmpretrain --------------------------------------------------------------------------------

_MM_CONFIG = re.compile(r"^(resnet|resnetv1c|resnetv1d|resnext)(\d+)(?:-(\d+)x(\d+)d)?_8xb(\d+)(-[\w-]+)?_in1k$")
_MM_VARIANT = {"resnet": "b", "resnetv1c": "c", "resnetv1d": "d", "resnext": "b"}


@dataclass(frozen=True)
class MMConfig:
    arch: Architecture
    family: str  # the configs/ folder: 'resnet' or 'resnext'
    short_name: str  # 'resnetv1d50', 'resnext101_32x4d' for the plain 8xb32 configs; '' otherwise


def mmpretrain_config(config: str) -> MMConfig:
    """An mmpretrain config name (``resnetv1d50_8xb32_in1k``, ``resnext101-32x8d_8xb32_in1k``,
    ``resnet50_8xb256-rsb-a1-600e_in1k``)."""
    m = _MM_CONFIG.match(config)
    if not m:
        raise UnknownName(f"{config!r} is not an mmpretrain ResNet/ResNeXt ImageNet-1k config name")
    kind, depth, groups, width, _, suffix = m.groups()
    if kind == "resnext":
        spec = resnet(int(depth), groups=int(groups), width_per_group=int(width))
        short = f"resnext{depth}_{groups}x{width}d"
    else:
        spec = resnet(int(depth), _MM_VARIANT[kind])
        short = f"{kind}{depth}"
    family = "resnext" if kind == "resnext" else "resnet"
    return MMConfig(Architecture(spec), family, "" if suffix else short)


# --- PaddleClas --------------------------------------------------------------------------------

_PPCLS = re.compile(r"^(Fix_)?(ResNet|ResNeXt)(\d+)(?:_(vc|vd))?(?:_(\d+)x(\d+)d)?(_ssld(?:_v2)?)?(_wsl)?$", re.IGNORECASE)
_PPCLS_VARIANT = {"vc": "c", "vd": "d", None: "b"}


def paddleclas(name: str) -> Parsed:
    """A PaddleClas model name and the source file (naming scheme) that builds it:

    legendary (``ResNetNN``, ``ResNetNN_vd``, their ``_ssld`` / ``Fix_`` weights: legendary / legendary_vd),
    vc (``ResNetNN_vc``), resnext (``ResNeXtNN_GxWd``), resnext_vd (``ResNeXtNN_vd_GxWd``), wsl
    (``ResNeXtNN_GxWd_wsl``). Every scheme but wsl projects the first block of every stage, which
    for ResNet18/34 is a different function than torchvision's (``project_first``)."""
    m = _PPCLS.match(name.strip())
    if not m:
        raise UnknownName(
            f"PaddleClas model {name!r} is not a ResNet/ResNeXt network zoocheck can build "
            "(known: ResNetNN, ResNetNN_vd, ResNetNN_vc, ResNeXtNN_GxWd, ResNeXtNN_vd_GxWd, ResNeXtNN_GxWd_wsl)"
        )
    _, kind, depth, vc_vd, groups, width, _, wsl = m.groups()
    kind, variant = kind.lower(), _PPCLS_VARIANT[vc_vd.lower() if vc_vd else None]
    if kind == "resnext":
        if groups is None:
            raise UnknownName(f"PaddleClas ResNeXt {name!r} lacks its GxWd")
        naming = "wsl" if wsl else ("resnext_vd" if variant == "d" else "resnext")
        if wsl and variant != "b" or variant == "c":
            raise UnknownName(f"PaddleClas has no {name!r}")
        spec = resnet(int(depth), variant, groups=int(groups), width_per_group=int(width))
    else:
        if groups is not None or wsl:
            raise UnknownName(f"PaddleClas ResNet {name!r} has no groups")
        naming = {"b": "legendary", "c": "vc", "d": "legendary_vd"}[variant]
        spec = resnet(int(depth), variant, project_first=int(depth) in (18, 34))
    return Parsed(Architecture(spec), naming)


# --- ONNX model zoo ----------------------------------------------------------------------------

_ONNX_ZOO = re.compile(r"^resnet(\d+)-(caffe2-)?v(\d)-(\d+)(-int8|-qdq)?$")


@dataclass(frozen=True)
class OnnxZooFile:
    arch: Architecture
    opset: int
    caffe2: bool  # the Caffe2 ResNet-50, not exported from MXNet Gluon
    quantization: str  # '' | 'int8' | 'qdq'

    @property
    def gluon_name(self) -> str:
        """The MXNet Gluon model-zoo name of the network the file was exported from."""
        return f"resnet{self.arch.structure.depth}_{self.arch.structure.variant}"


_ONNX_ZOO_SUFFIX = re.compile(r"-(\d+)(?:-(int8|qdq))?$")


def onnx_zoo_suffix(stem: str) -> tuple[int, str]:
    """The opset and the quantisation ('' | 'int8' | 'qdq') any ONNX model zoo file stem ends in
    (``vgg16-12-int8``: 12, 'int8')."""
    m = _ONNX_ZOO_SUFFIX.search(stem)
    if not m:
        raise UnknownName(f"{stem!r} is not an ONNX model zoo file stem (...-OPSET[-int8|-qdq])")
    return int(m[1]), m[2] or ""


def onnx_zoo_file(stem: str) -> OnnxZooFile:
    """An ONNX model zoo file stem (``resnet50-v1-7``, ``resnet50-caffe2-v1-9``, ``resnet50-v1-12-int8``)."""
    m = _ONNX_ZOO.match(stem)
    if not m:
        raise UnknownName(f"{stem!r} is not an ONNX model zoo ResNet file stem (resnetNN-vV-OPSET)")
    depth, caffe2, version, opset, quant = m.groups()
    return OnnxZooFile(Architecture(resnet(int(depth), f"v{version}")), int(opset), bool(caffe2), (quant or "")[1:])
