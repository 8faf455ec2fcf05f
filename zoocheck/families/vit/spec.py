"""The Vision Transformer family's structure (ViT, Dosovitskiy et al. 2020; DeiT, Touvron et al.
2021: a distillation token; DeiT-III, Touvron et al. 2022: layer scale, the class token outside
the position embedding), as pure data.

A ``ViTSpec`` says which function a ViT computes; two entries share its ``id`` only when they
compute the same function from the same weights. The skeleton: a ``patch`` x ``patch`` convolution
with stride ``patch`` to ``dim`` channels (the patch embedding), the map's pixels as tokens, the
class token (and DeiT's distillation token) in front, the position embedding added, ``depth``
pre-norm blocks (``x + attn(norm1(x))``, ``x + mlp(norm2(x))``; multi-head self-attention with a
fused q/k/v projection, an MLP of two Linear layers with exact GELU between), the final LayerNorm,
then the class token's classifier (DeiT distilled: the mean of the class token's and the
distillation token's classifiers, as every zoo evaluates it).

Fields, with who sets what:

- ``patch``, ``dim``, ``depth``, ``heads``, ``mlp_dim``: the patch side, the token width, the
  number of blocks, the attention heads, the MLP's hidden width (4 x ``dim`` but in PaddleClas's
  ``ViT_small_patch16_224``: 3 x).
- ``image_size``: the side of the square input the position embedding is sized for
  (``(image_size / patch)^2`` patches); a ViT's parameters have that size in them.
- ``distilled``: DeiT's distillation token and second classifier (timm ``deit_*_distilled``,
  mmpretrain ``deit-*-distilled``, PaddleClas ``DeiT_*_distilled``).
- ``layer_scale``: each branch's output scaled per channel before the residual addition
  (DeiT-III: timm ``init_values``, mmpretrain ``gamma1`` / ``gamma2``).
- ``pos_embed_tokens``: whether the position embedding covers the class/distillation tokens (ViT,
  DeiT) or only the patches, the class token concatenated after it is added (DeiT-III: timm
  ``no_embed_class``, mmpretrain ``DeiT3``).
- ``qkv_bias``: whether the q/k/v projection has a bias (timm ``vit_base_patch16_224_miil`` and
  PaddleClas ``ViT_small_patch16_224``: no).
- ``qk_scale``: the attention logits' scale, 0 for ``head_dim ** -0.5`` (every zoo's default;
  PaddleClas ``ViT_small_patch16_224``: ``dim ** -0.5``).
- ``ln_eps``: the LayerNorms' epsilon: 1e-6 (timm, torchvision, mmpretrain, PaddleClas's ViT-B/L
  and DeiT) or 1e-5 (PaddleClas's ``ViT_small_patch16_224``).
- ``ffn_norm``: 'own' (the MLP's input normalised by the block's second LayerNorm) or 'attn'
  (mmpretrain 1.2.0's ``DeiT3TransformerEncoderLayer`` normalises it with ``ln1``, the
  attention's LayerNorm, again; its ``ln2`` is built and never used).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_LN_EPS = 1e-6
#: the named sizes: (dim, depth, heads, mlp_dim)
SIZES: dict[str, tuple[int, int, int, int]] = {
    "tiny": (192, 12, 3, 768), "small": (384, 12, 6, 1536), "medium": (512, 12, 8, 2048),
    "base": (768, 12, 12, 3072), "large": (1024, 24, 16, 4096), "huge": (1280, 32, 16, 5120),
}  # fmt: skip


@dataclass(frozen=True)
class ViTSpec:
    """The structure of one Vision Transformer (see the module docstring for every field)."""

    patch: int
    dim: int
    depth: int
    heads: int
    mlp_dim: int
    image_size: int = 224
    distilled: bool = False
    layer_scale: bool = False
    pos_embed_tokens: bool = True
    qkv_bias: bool = True
    qk_scale: float = 0.0
    ln_eps: float = DEFAULT_LN_EPS
    ffn_norm: Literal["own", "attn"] = "own"

    family = "vit"

    def __post_init__(self) -> None:
        if self.dim % self.heads:
            raise ValueError(f"{self.dim} channels do not split into {self.heads} heads")
        if self.image_size % self.patch:
            raise ValueError(f"a {self.image_size}-pixel input is no whole number of {self.patch}-pixel patches")
        if self.ffn_norm not in ("own", "attn"):
            raise ValueError(f"ffn_norm is 'own' or 'attn', not {self.ffn_norm!r}")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def grid(self) -> int:
        """Patches per side at ``image_size``."""
        return self.image_size // self.patch

    @property
    def prefix_tokens(self) -> int:
        """The class token, and the distillation token where ``distilled``."""
        return 2 if self.distilled else 1

    @property
    def scale(self) -> float:
        return self.qk_scale or self.head_dim**-0.5

    @property
    def size(self) -> str | None:
        return next((name for name, dims in SIZES.items() if dims == (self.dim, self.depth, self.heads, self.mlp_dim)), None)

    @property
    def id(self) -> str:
        """``vit_base_p16_224`` (timm's vit_base_patch16_224 and deit_base_patch16_224,
        torchvision's vit_b_16, mmpretrain's deit-base, PaddleClas's ViT_base_patch16_224 and
        DeiT_base_patch16_224), ``vit_tiny_p16_224_distilled``, DeiT-III's
        ``vit_base_p16_224_layerscale_posembednotokens``; an unnamed size spells its dimensions
        (``vit_d768x8h8m2304_p16_224``), and every field that differs from its default is named."""
        size = self.size or f"d{self.dim}x{self.depth}h{self.heads}m{self.mlp_dim}"
        out = f"vit_{size}_p{self.patch}_{self.image_size}"
        if self.distilled:
            out += "_distilled"
        if self.layer_scale:
            out += "_layerscale"
        if not self.pos_embed_tokens:
            out += "_posembednotokens"
        if not self.qkv_bias:
            out += "_noqkvbias"
        if self.qk_scale:
            out += f"_qkscale{self.qk_scale:.6g}"
        if self.ln_eps != DEFAULT_LN_EPS:
            out += "_lneps" + f"{self.ln_eps:.0e}".replace("e-0", "e-")
        if self.ffn_norm != "own":
            out += "_ffnnormattn"
        return out


def sized(name: str, patch: int, image_size: int, **fields) -> ViTSpec:
    """The spec of a named size (``SIZES``)."""
    if name not in SIZES:
        raise ValueError(f"no ViT size {name!r} (known: {', '.join(SIZES)})")
    dim, depth, heads, mlp_dim = SIZES[name]
    return ViTSpec(patch=patch, dim=dim, depth=depth, heads=heads, mlp_dim=mlp_dim, image_size=image_size, **fields)
