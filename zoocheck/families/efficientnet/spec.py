"""The EfficientNet family's structure (Tan & Le 2019; B0-B8, L2 and the Lite0-4 edge models), as
pure data.

An ``EfficientNetSpec`` says which function an EfficientNet computes; two entries share its ``id``
only when they compute the same function from the same weights. The skeleton: a 3x3/2 stem conv,
seven stages of MBConv blocks (depthwise 3x3/5x5, squeeze-excitation reduced to a quarter of the
block's input channels, SiLU), a 1x1 conv head to 1280 x width channels with BN and SiLU, global
average pooling and a Linear classifier. Stochastic depth and dropout do nothing at evaluation, so
they are not part of the structure.

Fields, with who sets what:

- ``variant``: the compound scaling (width, depth) and block table: 'b0'..'b8', 'l2' (``SCALES``);
  'lite0'..'lite4' (no SE, ReLU6, stem and head not scaled, first and last stages not repeated);
  'b1_pruned', 'b2_pruned', 'b3_pruned' (timm's pruned models, arXiv 2002.08258: their channel counts
  come from timm's pruning table). torchvision ``efficientnet_bN``, timm ``efficientnet_bN`` /
  ``tf_efficientnet_bN`` / ``tf_efficientnet_lN`` / ``(tf_)efficientnet_liteN``.
- ``bn_eps``: 1e-5 (PyTorch's default: torchvision B0-B4, timm's own ``efficientnet_*``) or 1e-3
  (TF's: torchvision B5-B7, whose weights were ported from TF; timm ``tf_*`` and ``*_pruned``).
- ``padding``: 'symmetric' (k // 2 on every side: torchvision, timm's own) or 'same' (TF's
  asymmetric "same" padding, computed from the input size: timm ``tf_*`` and ``*_pruned``,
  mmpretrain's ``Conv2dAdaptivePadding``, PaddleClas's ``padding_type='SAME'``, which pads both sides
  by the larger amount and crops the first row and column: the same numbers).
- ``squeeze_excitation``: False for PaddleClas's ``EfficientNetB0_small`` (B0 without SE, symmetric
  padding); every other EfficientNet but the Lite models has SE (the Lite variants imply none).

torchvision's squeeze width ``input_channels // 4`` and timm's ``round(mid * 0.25 / expansion)`` are
the same number for every channel count these variants have, so they are one SE form.

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: variant -> (width multiplier, depth multiplier), as in the paper and every zoo
SCALES: dict[str, tuple[float, float]] = {
    "b0": (1.0, 1.0), "b1": (1.0, 1.1), "b2": (1.1, 1.2), "b3": (1.2, 1.4), "b4": (1.4, 1.8),
    "b5": (1.6, 2.2), "b6": (1.8, 2.6), "b7": (2.0, 3.1), "b8": (2.2, 3.6), "l2": (4.3, 5.3),
    "lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2), "lite3": (1.2, 1.4), "lite4": (1.4, 1.8),
    "b1_pruned": (1.0, 1.1), "b2_pruned": (1.1, 1.2), "b3_pruned": (1.2, 1.4),
}  # fmt: skip
DEFAULT_BN_EPS = 1e-5
#: the B0 block table (the paper's Table 1), before width and depth scaling: per stage (kernel,
#: repeats, stride of its first block, expansion, output channels); stem 32 and head 1280 channels
BLOCKS: tuple[tuple[int, int, int, int, int], ...] = (
    (3, 1, 1, 1, 16),
    (3, 2, 2, 6, 24),
    (5, 2, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (5, 3, 1, 6, 112),
    (5, 4, 2, 6, 192),
    (3, 1, 1, 6, 320),
)
STEM_CHANNELS, HEAD_CHANNELS = 32, 1280


@dataclass(frozen=True)
class EfficientNetSpec:
    """The structure of one EfficientNet (see the module docstring for every field)."""

    variant: str
    bn_eps: float = DEFAULT_BN_EPS
    padding: Literal["symmetric", "same"] = "symmetric"
    squeeze_excitation: bool = True

    family = "efficientnet"

    def __post_init__(self) -> None:
        if self.variant not in SCALES:
            raise ValueError(f"unknown EfficientNet variant {self.variant!r} (known: {', '.join(SCALES)})")

    @property
    def width(self) -> float:
        return SCALES[self.variant][0]

    @property
    def depth(self) -> float:
        return SCALES[self.variant][1]

    @property
    def lite(self) -> bool:
        return self.variant.startswith("lite")

    @property
    def id(self) -> str:
        """``efficientnet_b0`` (torchvision, timm's own), ``efficientnet_b0_bneps1e-3_samepad``
        (timm ``tf_efficientnet_b0``), ``efficientnet_b5_bneps1e-3`` (torchvision B5)."""
        out = f"efficientnet_{self.variant}"
        if self.bn_eps != DEFAULT_BN_EPS:
            out += "_bneps" + f"{self.bn_eps:.0e}".replace("e-0", "e-")
        if self.padding == "same":
            out += "_samepad"
        if not self.squeeze_excitation and not self.lite:
            out += "_nose"
        return out


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF's "same" padding of one side of ``size`` pixels: (before, after), the odd pixel after."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2
