"""One parser per naming scheme: a zoo's ConvNeXt (V1) name -> its ``ConvNeXtSpec``.

=============  ==================================================  ===============
scheme         examples                                            parser
=============  ==================================================  ===============
torchvision    convnext_tiny, convnext_large                       ``torchvision``
timm           convnext_tiny, convnext_atto_ols, convnext_tiny_hnf,  ``timm``
               convnext_zepto_rms, convnext_large_mlp
mmpretrain     convnext-tiny_32xb128_in1k,                         ``mmpretrain``
               convnext-base_in21k-pre_3rdparty_in1k-384px
PaddleClas     ConvNeXt_tiny, ConvNeXt_base_384                    ``paddleclas``
=============  ==================================================  ===============

Every zoo's network of one size computes the same function (LayerNorm eps 1e-6, the head's norm
after the pool): one id. A name outside the scheme raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.convnext.spec import SIZES, ConvNeXtSpec

#: the paper's sizes (torchvision builds four of them)
_PAPER = ("tiny", "small", "base", "large", "xlarge")
#: timm's suffixes -> the fields they set (convnext.py's model_args)
_TIMM_VARIANTS = {
    "": {}, "_ols": {"stem": "overlap_tiered"}, "_hnf": {"head_norm_first": True}, "_rms": {"norm": "rmsnorm"},
    "_mlp": {}, "_rms_ols": {"norm": "simplenorm", "stem": "overlap_act"},
}  # fmt: skip
_TIMM = re.compile(r"^convnext_([a-z]+?)(_ols|_hnf|_rms_ols|_rms|_mlp)?$")


def torchvision(name: str) -> ConvNeXtSpec:
    """``convnext_tiny/small/base/large``."""
    m = re.match(r"^convnext_(tiny|small|base|large)$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision ConvNeXt name")
    return ConvNeXtSpec(size=m[1])


def timm(name: str) -> ConvNeXtSpec:
    """``convnext_<size>[_ols|_hnf|_rms|_mlp]`` (timm/models/convnext.py); a pretrained tag is
    ignored. ``nano_ols`` has the plain overlapping stem, ``zepto_rms`` a simple norm,
    ``large_mlp`` a 1536-wide hidden head layer, ``xxlarge`` LayerNorm eps 1e-5."""
    m = _TIMM.match(name.split(".", 1)[0])
    if not m or m[1] not in SIZES or m[1] == "huge":
        raise ValueError(f"{name!r} is not a timm ConvNeXt name")
    size, suffix = m[1], m[2] or ""
    fields: dict = dict(_TIMM_VARIANTS[suffix])
    if suffix == "_ols" and size == "nano":
        fields["stem"] = "overlap"
    if size == "zepto" and suffix == "_rms":
        fields["norm"] = "simplenorm"
    if suffix == "_mlp":
        fields["head_hidden"] = SIZES[size][1][-1]
    if size == "xxlarge":
        fields["norm_eps"] = 1e-5
    return ConvNeXtSpec(size=size, **fields)


def mmpretrain(config: str) -> ConvNeXtSpec:
    """``convnext-<size>_<recipe>_in1k[-384px]`` (configs/convnext): mmpretrain's ConvNeXt
    backbone (Linear pointwise layers, the final norm after the pool) and LinearClsHead."""
    m = re.match(r"^convnext-(tiny|small|base|large|xlarge)_[\w-]*in1k(?:-384px)?$", config)
    if not m:
        raise ValueError(f"{config!r} is not an mmpretrain ConvNeXt config name")
    return ConvNeXtSpec(size=m[1])


def paddleclas(name: str) -> ConvNeXtSpec:
    """``ConvNeXt_<tiny|small|base|large>[_224|_384]`` (ppcls/arch/backbone/model_zoo/convnext.py)."""
    m = re.match(r"^ConvNeXt_(tiny|small|base|large)(?:_224|_384)?$", name)
    if not m:
        raise ValueError(f"{name!r} is not a PaddleClas ConvNeXt name")
    return ConvNeXtSpec(size=m[1])
