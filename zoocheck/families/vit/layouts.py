"""The ViT family's canonical weights (``canonical.py`` names) under torchvision's, timm's,
mmpretrain's and PaddleClas's (timm's, Linear weights [in, out]) parameter names (the family's ``layouts``, ``families/registry.py``).

====================  ==================================  =====================  ===================================
canonical             torchvision                         timm                   mmpretrain
====================  ==================================  =====================  ===================================
``patch_embed``       ``conv_proj``                       ``patch_embed.proj``   ``backbone.patch_embed.projection``
``tokens.cls``        ``class_token``                     ``cls_token``          ``backbone.cls_token``
``tokens.dist``       -                                   ``dist_token``         ``backbone.dist_token``
``tokens.pos_embed``  ``encoder.pos_embedding``           ``pos_embed``          ``backbone.pos_embed``
``blocks.{i}``        ``encoder.layers.encoder_layer_{i}``  ``blocks.{i}``       ``backbone.layers.{i}``
``.norm1`` / ``2``    ``.ln_1`` / ``.ln_2``               ``.norm1`` / ``2``     ``.ln1`` / ``.ln2``
``.attn.qkv``         ``.self_attention.in_proj_weight``  ``.attn.qkv``          ``.attn.qkv``
                      / ``in_proj_bias``
``.attn.proj``        ``.self_attention.out_proj``        ``.attn.proj``         ``.attn.proj``
``.ls1`` / ``.ls2``   -                                   ``.ls1.gamma`` / ``2``  ``.attn.gamma1`` / ``.ffn.gamma2``
``.mlp.fc1`` / ``2``  ``.mlp.0`` / ``.mlp.3``             ``.mlp.fc1`` / ``2``   ``.ffn.layers.0.0`` / ``.ffn.layers.1``
``norm``              ``encoder.ln``                      ``norm``               ``backbone.ln1``
``fc`` / ``fc_dist``  ``heads.head``                      ``head`` / ``head_dist``  ``head.layers.head`` / ``.head_dist``
====================  ==================================  =====================  ===================================

mmpretrain's DeiT3 (``ffn_norm='attn'``) has an ``ln2`` it never uses: written as LayerNorm's
identity (ones, zeros), as its own initialisation leaves it.
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.vit.canonical import spec_of
from zoocheck.zoo_registry.types import Architecture

_BLOCK_UNITS = {
    "torchvision": {"norm1": "ln_1", "norm2": "ln_2", "attn.proj": "self_attention.out_proj", "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.3"},
    "timm": {"norm1": "norm1", "norm2": "norm2", "attn.qkv": "attn.qkv", "attn.proj": "attn.proj", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"},
    "mmpretrain": {"norm1": "ln1", "norm2": "ln2", "attn.qkv": "attn.qkv", "attn.proj": "attn.proj", "ls1": "attn.gamma1",
                   "ls2": "ffn.gamma2", "mlp.fc1": "ffn.layers.0.0", "mlp.fc2": "ffn.layers.1"},
}  # fmt: skip
_TOP = {
    "torchvision": {"patch_embed": "conv_proj", "norm": "encoder.ln", "fc": "heads.head", "tokens.cls": "class_token",
                    "tokens.pos_embed": "encoder.pos_embedding"},
    "timm": {"patch_embed": "patch_embed.proj", "norm": "norm", "fc": "head", "fc_dist": "head_dist", "tokens.cls": "cls_token",
             "tokens.dist": "dist_token", "tokens.pos_embed": "pos_embed"},
    "mmpretrain": {"patch_embed": "backbone.patch_embed.projection", "norm": "backbone.ln1", "fc": "head.layers.head",
                   "fc_dist": "head.layers.head_dist", "tokens.cls": "backbone.cls_token", "tokens.dist": "backbone.dist_token",
                   "tokens.pos_embed": "backbone.pos_embed"},
}  # fmt: skip
_BLOCKS = {"torchvision": "encoder.layers.encoder_layer_{}", "timm": "blocks.{}", "mmpretrain": "backbone.layers.{}"}


def _name(name: str, framework: str) -> str:
    """One canonical parameter (or ``<module>.<leaf>``) under ``framework``'s name."""
    top = _TOP[framework]
    if name in top:
        return top[name]
    if name.startswith("blocks."):
        _, index, rest = name.split(".", 2)
        unit, leaf = rest.rsplit(".", 1)
        block = _BLOCKS[framework].format(index)
        if framework == "torchvision" and unit == "attn.qkv":
            return f"{block}.self_attention.in_proj_{leaf}"
        if framework == "timm" and unit in ("ls1", "ls2"):
            return f"{block}.{unit}.gamma"
        if unit not in _BLOCK_UNITS[framework]:
            raise ValueError(f"{framework}'s ViT has no counterpart of {name}")
        return f"{block}.{_BLOCK_UNITS[framework][unit]}.{leaf}"
    module, leaf = name.rsplit(".", 1)
    if module not in top:
        raise ValueError(f"{framework}'s ViT has no counterpart of {name}")
    return f"{top[module]}.{leaf}"


def _renamed(params: dict[str, np.ndarray], arch: Architecture, framework: str) -> dict[str, np.ndarray]:
    return {_name(name, framework): value for name, value in params.items()}


def to_torchvision(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    spec = spec_of(arch)
    if spec.distilled or spec.layer_scale or not spec.pos_embed_tokens or spec.ffn_norm != "own":
        raise ValueError(f"{spec.id}: torchvision's VisionTransformer has no distillation token, layer scale or other token layout")
    return _renamed(params, arch, "torchvision")


def to_timm(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    return _renamed(params, arch, "timm")


def to_paddle(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    """PaddleClas's names (timm's: its files were written from timm's), each Linear weight
    transposed to Paddle's [in, out]."""
    spec = spec_of(arch)
    if spec.layer_scale or not spec.pos_embed_tokens or spec.ffn_norm != "own":
        raise ValueError(f"{spec.id}: PaddleClas's ViT has no layer scale or other token layout")
    linear = ("qkv", "proj", "fc1", "fc2", "fc", "fc_dist")
    return {
        _name(name, "timm"): value.T if name.endswith(".weight") and name.rsplit(".", 2)[-2] in linear else value
        for name, value in params.items()
    }


def tap_modules(arch: Architecture, framework: str) -> dict[str, str]:
    """The ``layer_outputs`` taps no parameter names in ``framework``'s network: torchvision's
    attention projection ``out_proj`` is read by ``F.multi_head_attention_forward``, never called,
    so its output is the first of the ``nn.MultiheadAttention``'s (output, weights)."""
    if framework != "torchvision":
        return {}
    return {f"blocks.{i}.attn.proj": f"{_BLOCKS[framework].format(i)}.self_attention" for i in range(spec_of(arch).depth)}


def to_mmpretrain(params: dict[str, np.ndarray], arch: Architecture, naming: str = "") -> dict[str, np.ndarray]:
    out = _renamed(params, arch, "mmpretrain")
    spec = spec_of(arch)
    if spec.ffn_norm == "attn" and "blocks.0.norm1.weight" in params:  # parameters, not layer taps
        for i in range(spec.depth):
            out[f"backbone.layers.{i}.ln2.weight"] = np.ones(spec.dim, np.float32)
            out[f"backbone.layers.{i}.ln2.bias"] = np.zeros(spec.dim, np.float32)
    return out
