"""One parser per naming scheme: a zoo's Swin / Swin V2 name -> its ``SwinSpec``.

=============  ==========================================================  ===============
scheme         examples                                                    parser
=============  ==========================================================  ===============
torchvision    swin_t, swin_b, swin_v2_t                                   ``torchvision``
timm           swin_tiny_patch4_window7_224, swinv2_tiny_window8_256,      ``timm``
               swinv2_base_window12to24_192to384
mmpretrain     swin-tiny_16xb64_in1k, swin-base_3rdparty_in1k-384,         ``mmpretrain``
               swinv2-tiny-w8_3rdparty_in1k-256px,
               swinv2-base-w24_in21k-pre_3rdparty_in1k-384px
PaddleClas     SwinTransformer_tiny_patch4_window7_224,                    ``paddleclas``
               SwinTransformerV2_base_patch4_window24_384
=============  ==========================================================  ===============

A name outside the scheme (timm's Swin-S3 and its own ``swinv2_cr`` re-implementation among them)
raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.swin.spec import SwinSpec, sized

_TORCHVISION_SIZES = {"t": "tiny", "s": "small", "b": "base"}
#: the pre-training windows of the 22k models fine-tuned to a larger window (the same in timm,
#: mmpretrain and PaddleClas: stage 4 trained at half the window)
_PRETRAINED_WINDOW = (12, 12, 12, 6)


def torchvision(name: str) -> SwinSpec:
    """``swin_(t|s|b)`` (window 7 at 224), ``swin_v2_(t|s|b)`` (window 8 at 256)."""
    m = re.match(r"^swin_(v2_)?([tsb])$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision Swin name")
    return sized(_TORCHVISION_SIZES[m[2]], 8, 256, v2=True) if m[1] else sized(_TORCHVISION_SIZES[m[2]], 7, 224)


_TIMM_V1 = re.compile(r"^swin_(tiny|small|base|large)_patch4_window(\d+)_(\d+)$")
_TIMM_V2 = re.compile(r"^swinv2_(tiny|small|base|large)_window(?:(\d+)to)?(\d+)_(?:\d+to)?(\d+)$")


def timm(name: str) -> SwinSpec:
    """``swin_<size>_patch4_window<w>_<image>``, ``swinv2_<size>_window<w>_<image>`` and the 22k
    fine-tunes ``swinv2_<size>_window<w0>to<w>_<i0>to<image>`` (pretrained windows (w0, w0, w0,
    w0 / 2)); a pretrained tag is ignored."""
    arch = name.split(".", 1)[0]
    if m := _TIMM_V1.match(arch):
        return sized(m[1], int(m[2]), int(m[3]))
    if m := _TIMM_V2.match(arch):
        pretrained = (int(m[2]),) * 3 + (int(m[2]) // 2,) if m[2] else ()
        return sized(m[1], int(m[3]), int(m[4]), v2=True, pretrained_window=pretrained)
    raise ValueError(f"{name!r} is not a timm Swin / Swin V2 name zoocheck reads")


_MMPRETRAIN_V1 = re.compile(r"^swin-(tiny|small|base|large)_.*?(?:in1k-(384))?$")
_MMPRETRAIN_V2 = re.compile(r"^swinv2-(tiny|small|base|large)-w(\d+)_(in21k-pre_)?.*in1k-(\d+)px$")


def mmpretrain(config: str) -> SwinSpec:
    """``swin-<size>_..._in1k`` (window 7 at 224) or ``..._in1k-384`` (window 12 at 384);
    ``swinv2-<size>-w<w>_..._in1k-<image>px`` (``in21k-pre``: pretrained windows (12, 12, 12, 6))."""
    if m := _MMPRETRAIN_V1.match(config):
        return sized(m[1], 12, 384) if m[2] else sized(m[1], 7, 224)
    if m := _MMPRETRAIN_V2.match(config):
        return sized(m[1], int(m[2]), int(m[4]), v2=True, pretrained_window=_PRETRAINED_WINDOW if m[3] else ())
    raise ValueError(f"{config!r} is not an mmpretrain Swin / Swin V2 config name")


_PADDLECLAS = re.compile(r"^SwinTransformer(V2)?_(tiny|small|base|large)_patch4_window(\d+)_(\d+)$")


def paddleclas(name: str) -> SwinSpec:
    """``SwinTransformer_<size>_patch4_window<w>_<image>``
    (ppcls/arch/backbone/legendary_models/swin_transformer.py: ``shift_single_window``) and
    ``SwinTransformerV2_<size>_patch4_window<w>_<image>`` (model_zoo/swin_transformer_v2.py, whose
    base-w24, large-w16 and large-w24 builders set the pretrained windows (12, 12, 12, 6))."""
    m = _PADDLECLAS.match(name)
    if not m:
        raise ValueError(f"{name!r} is not a PaddleClas Swin name")
    size, window, image = m[2], int(m[3]), int(m[4])
    if not m[1]:
        return sized(size, window, image, shift_single_window=True)
    pretrained = _PRETRAINED_WINDOW if (size, window) in (("base", 24), ("large", 16), ("large", 24)) else ()
    return sized(size, window, image, v2=True, pretrained_window=pretrained)
