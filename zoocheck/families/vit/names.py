"""One parser per naming scheme: a zoo's ViT / DeiT / DeiT-III name -> its ``ViTSpec``.

=============  ===================================================  ===============
scheme         examples                                             parser
=============  ===================================================  ===============
torchvision    vit_b_16, vit_l_32, vit_h_14                         ``torchvision``
timm           vit_base_patch16_224, vit_base_patch16_224_miil,     ``timm``
               deit_tiny_distilled_patch16_224, deit3_huge_patch14_224
mmpretrain     vit-base-p16_in21k-pre_3rdparty_in1k-384px,          ``mmpretrain``
               deit-tiny-distilled_3rdparty_in1k, deit3-small-p16_3rdparty_in1k-384px
PaddleClas     ViT_base_patch16_384, DeiT_tiny_distilled_patch16_224  ``paddleclas``
=============  ===================================================  ===============

A name outside the scheme (timm's CLIP, SigLIP, register-token, RoPE, relative-position and hybrid
ViTs among them) raises ValueError.
"""

from __future__ import annotations

import re

from zoocheck.families.vit.spec import ViTSpec, sized

_TORCHVISION_SIZES = {"b": "base", "l": "large", "h": "huge"}


def torchvision(name: str) -> ViTSpec:
    """``vit_(b|l|h)_<patch>`` at 224 (torchvision builds the SWAG end-to-end weights at 384 / 512 /
    518 with ``image_size=``: the registry sets the row's size, ``sources/_families.at_input_size``)."""
    m = re.match(r"^vit_([blh])_(\d+)$", name)
    if not m:
        raise ValueError(f"{name!r} is not a torchvision ViT name")
    return sized(_TORCHVISION_SIZES[m[1]], int(m[2]), 224)


_TIMM = re.compile(r"^(vit|deit|deit3)_(tiny|small|medium|base|large|huge)(_distilled)?_patch(\d+)_(\d+)(_miil)?$")


def timm(name: str) -> ViTSpec:
    """``vit_<size>_patch<p>_<image>`` (``_miil``: no q/k/v bias), ``deit_<size>(_distilled)_patch16_<image>``,
    ``deit3_<size>_patch<p>_<image>`` (layer scale, position embedding of the patches only); a
    pretrained tag is ignored."""
    arch = name.split(".", 1)[0]
    m = _TIMM.match(arch)
    if not m or (m[3] and m[1] != "deit") or (m[6] and m[1] != "vit"):
        raise ValueError(f"{name!r} is not a timm ViT / DeiT / DeiT-III name zoocheck reads")
    deit3 = m[1] == "deit3"
    return sized(m[2], int(m[4]), int(m[5]), distilled=bool(m[3]), layer_scale=deit3, pos_embed_tokens=not deit3, qkv_bias=not m[6])


_MMPRETRAIN = re.compile(r"^(vit|deit|deit3)-(tiny|small|medium|base|large|huge)(-distilled)?(?:-p(\d+))?_.*?(?:in1k-(\d+)px)?$")


def mmpretrain(config: str) -> ViTSpec:
    """``vit-<size>-p<patch>_...``, ``deit-<size>(-distilled)_...`` (patch 16), ``deit3-<size>-p<patch>_...``;
    ``..._in1k-384px`` at 384, else 224. mmpretrain 1.2.0's DeiT3 normalises each block's MLP input
    with the attention's LayerNorm (``ffn_norm='attn'``)."""
    m = _MMPRETRAIN.match(config)
    if not m or (m[3] and m[1] != "deit") or (m[1] == "deit") == bool(m[4]):
        raise ValueError(f"{config!r} is not an mmpretrain ViT / DeiT / DeiT-III config name")
    deit3 = m[1] == "deit3"
    return sized(
        m[2],
        int(m[4] or 16),
        int(m[5] or 224),
        distilled=bool(m[3]),
        layer_scale=deit3,
        pos_embed_tokens=not deit3,
        ffn_norm="attn" if deit3 else "own",
    )


_PADDLECLAS = re.compile(r"^(ViT|DeiT)_(tiny|small|base|large|huge)(_distilled)?_patch(\d+)_(\d+)$")


def paddleclas(name: str) -> ViTSpec:
    """``ViT_<size>_patch<p>_<image>``, ``DeiT_<size>(_distilled)_patch16_<image>``
    (ppcls/arch/backbone/model_zoo/vision_transformer.py, distilled_vision_transformer.py): LayerNorm
    epsilon 1e-6, q/k/v bias; but ``ViT_small_patch16_224`` is the first timm ViT-S: width 768,
    8 blocks of 8 heads, MLP ratio 3, no q/k/v bias, logits scaled by ``768 ** -0.5``, epsilon 1e-5."""
    m = _PADDLECLAS.match(name)
    if not m or (m[3] and m[1] != "DeiT"):
        raise ValueError(f"{name!r} is not a PaddleClas ViT / DeiT name")
    patch, image = int(m[4]), int(m[5])
    if m[1] == "ViT" and m[2] == "small":
        return ViTSpec(
            patch=patch, dim=768, depth=8, heads=8, mlp_dim=2304, image_size=image, qkv_bias=False, qk_scale=768**-0.5, ln_eps=1e-5
        )
    return sized(m[2], patch, image, distilled=bool(m[3]))
