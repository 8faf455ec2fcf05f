"""The ConvNeXt family's structure (Liu et al. 2022; V2: Woo et al. 2023), as pure data.

A ``ConvNeXtSpec`` says which function a ConvNeXt computes; two entries share its ``id`` only when
they compute the same function from the same weights. The skeleton: a 4x4/4 "patchify" stem conv
with a LayerNorm over channels; four stages of blocks (7x7 depthwise conv, LayerNorm over
channels, pointwise MLP to 4x the width with GELU, back, an optional per-channel layer scale, the
input added back), each stage after the first entered by a LayerNorm and a 2x2/2 conv; global
average pooling, a LayerNorm and a Linear classifier. ConvNeXt-V2 (``ConvNeXtV2Spec``, family
``convnext_v2``) puts a global response normalisation (GRN) after the GELU and drops the layer
scale; both families share this spec's code.

Whether a zoo writes the pointwise layers as Linear layers on a channels-last tensor (torchvision,
timm's tiny and up, mmpretrain, PaddleClas) or as 1x1 convolutions (timm's ``conv_mlp`` atto to
nano) changes the parameters' shapes, not the function: no field.

Fields, with who sets what:

- ``size``: the depths and widths (``SIZES``): 'atto' .. 'nano' (timm's small ones; mmpretrain's
  V2 atto .. nano), 'tiny', 'small', 'base', 'large', 'xlarge' (the paper's; torchvision, timm,
  mmpretrain, PaddleClas), 'xxlarge' (timm's LAION CLIP tower), 'huge' (V2), 'zepto' (timm).
- ``grn`` / ``layer_scale``: V2's GRN, V1's layer scale (the V2 spec sets both).
- ``stem``: 'patch' (4x4/4 conv + LayerNorm), or timm's overlapping stems 'overlap' (nano_ols),
  'overlap_tiered' (atto/femto/pico_ols), 'overlap_act' (zepto_rms_ols).
- ``norm``: 'layernorm', or timm's 'rmsnorm' / 'simplenorm' (zepto_rms: RMS norm without a shift).
- ``norm_eps``: 1e-6 everywhere but timm's xxlarge (1e-5).
- ``head_norm_first``: timm's ``convnext_tiny_hnf``: the head's norm on the feature map before
  the pool.
- ``head_hidden``: timm's ``convnext_large_mlp``: a hidden layer (Linear + GELU) of this width
  before the classifier; 0 for none.

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: size -> (blocks per stage, channels per stage)
SIZES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "zepto": ((2, 2, 4, 2), (32, 64, 128, 256)),
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512)),
    "nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
    "xxlarge": ((3, 4, 30, 3), (384, 768, 1536, 3072)),
    "huge": ((3, 3, 27, 3), (352, 704, 1408, 2816)),
}
DEFAULT_NORM_EPS = 1e-6
#: the MLP's expansion
MLP_RATIO = 4
#: GRN's epsilon (timm, mmpretrain and the official code)
GRN_EPS = 1e-6


@dataclass(frozen=True)
class ConvNeXtSpec:
    """The structure of one ConvNeXt (see the module docstring for every field)."""

    size: str
    grn: bool = False
    layer_scale: bool = True
    stem: Literal["patch", "overlap", "overlap_tiered", "overlap_act"] = "patch"
    norm: Literal["layernorm", "rmsnorm", "simplenorm"] = "layernorm"
    norm_eps: float = DEFAULT_NORM_EPS
    head_norm_first: bool = False
    head_hidden: int = 0

    family = "convnext"

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"unknown ConvNeXt size {self.size!r} (known: {', '.join(SIZES)})")

    @property
    def depths(self) -> tuple[int, ...]:
        return SIZES[self.size][0]

    @property
    def dims(self) -> tuple[int, ...]:
        return SIZES[self.size][1]

    @property
    def id(self) -> str:
        """``convnext_tiny`` (torchvision, timm, mmpretrain, PaddleClas), ``convnext_v2_atto``; each
        field that differs from its default is spelled out (``convnext_nano_overlapstem``,
        ``convnext_xxlarge_lneps1e-5``, ``convnext_tiny_headnormfirst``, ``convnext_large_mlphead1536``)."""
        out = f"{self.family}_{self.size}"
        if self.grn != (self.family == "convnext_v2"):
            out += "_grn" if self.grn else "_nogrn"
        if self.layer_scale != (self.family == "convnext"):
            out += "_layerscale" if self.layer_scale else "_nolayerscale"
        if self.stem != "patch":
            out += f"_{self.stem.replace('_', '')}stem"
        if self.norm != "layernorm":
            out += f"_{self.norm}"
        if self.norm_eps != DEFAULT_NORM_EPS:
            out += "_lneps" + f"{self.norm_eps:.0e}".replace("e-0", "e-")
        if self.head_norm_first:
            out += "_headnormfirst"
        if self.head_hidden:
            out += f"_mlphead{self.head_hidden}"
        return out


@dataclass(frozen=True)
class ConvNeXtV2Spec(ConvNeXtSpec):
    """ConvNeXt-V2: GRN after the GELU, no layer scale."""

    grn: bool = True
    layer_scale: bool = False

    family = "convnext_v2"
