"""The EfficientNetV2 family's structure (Tan & Le 2021), as pure data.

An ``EfficientNetV2Spec`` says which function an EfficientNetV2 computes; two entries share its
``id`` only when they compute the same function from the same weights. The skeleton: a 3x3/2 stem
conv, fused-MBConv stages (a 3x3 conv instead of expand + depthwise) then MBConv stages with
squeeze-excitation, SiLU, a 1x1 conv head with BN and SiLU, global average pooling and a Linear
classifier.

Fields, with who sets what:

- ``variant``: the block table and scaling: 's', 'm', 'l', 'xl' (the paper's; torchvision
  ``efficientnet_v2_s/m/l``, timm ``tf_efficientnetv2_s/m/l/xl``), 'b0'..'b3' (the paper's base
  model scaled: timm ``tf_efficientnetv2_b0..b3``), 'rw_t', 'rw_s', 'rw_m' (timm's own
  ``efficientnetv2_rw_*``: 'rw_t' is the 's' table at width 0.8 / depth 0.9, 'rw_s' and 'rw_m' are
  timm's pre-release 's' table with a 272-channel last stage and a 1792 head).
- ``attention``: 'se' (squeeze-excitation) or 'gc' (timm ``gc_efficientnetv2_rw_t``: global-context
  attention in place of SE).
- ``bn_eps``: 1e-5 (PyTorch's default: timm's own ``efficientnetv2_rw_*``) or 1e-3 (TF's:
  torchvision, timm ``tf_*``).
- ``padding``: 'symmetric' (k // 2: torchvision, timm's own) or 'same' (TF's asymmetric "same"
  padding: timm ``tf_*``).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_BN_EPS = 1e-5

#: a stage: (block type, kernel, repeats, stride of its first block, expansion, output channels,
#: SE); block types: 'conv' (one k x k conv with its activation: timm's ``cn``, torchvision's
#: FusedMBConv at expansion 1), 'fused' (fused MBConv: a k x k conv to the expanded width, then a
#: 1x1 project: timm's ``er``), 'mbconv' (expand, depthwise, SE reduced to a quarter of the
#: block's input width, project: timm's ``ir``)
Stage = tuple[str, int, int, int, int, int, bool]
#: the block tables (the paper's, torchvision's and timm's ``_gen_efficientnetv2_*``)
TABLES: dict[str, tuple[Stage, ...]] = {
    "s": (("conv", 3, 2, 1, 1, 24, False), ("fused", 3, 4, 2, 4, 48, False), ("fused", 3, 4, 2, 4, 64, False),
          ("mbconv", 3, 6, 2, 4, 128, True), ("mbconv", 3, 9, 1, 6, 160, True), ("mbconv", 3, 15, 2, 6, 256, True)),
    # timm's pre-release 's' (``efficientnetv2_rw_s/m``): a fused first stage, 272 channels last
    "s_rw": (("fused", 3, 2, 1, 1, 24, False), ("fused", 3, 4, 2, 4, 48, False), ("fused", 3, 4, 2, 4, 64, False),
             ("mbconv", 3, 6, 2, 4, 128, True), ("mbconv", 3, 9, 1, 6, 160, True), ("mbconv", 3, 15, 2, 6, 272, True)),
    "m": (("conv", 3, 3, 1, 1, 24, False), ("fused", 3, 5, 2, 4, 48, False), ("fused", 3, 5, 2, 4, 80, False),
          ("mbconv", 3, 7, 2, 4, 160, True), ("mbconv", 3, 14, 1, 6, 176, True), ("mbconv", 3, 18, 2, 6, 304, True),
          ("mbconv", 3, 5, 1, 6, 512, True)),
    "l": (("conv", 3, 4, 1, 1, 32, False), ("fused", 3, 7, 2, 4, 64, False), ("fused", 3, 7, 2, 4, 96, False),
          ("mbconv", 3, 10, 2, 4, 192, True), ("mbconv", 3, 19, 1, 6, 224, True), ("mbconv", 3, 25, 2, 6, 384, True),
          ("mbconv", 3, 7, 1, 6, 640, True)),
    "xl": (("conv", 3, 4, 1, 1, 32, False), ("fused", 3, 8, 2, 4, 64, False), ("fused", 3, 8, 2, 4, 96, False),
           ("mbconv", 3, 16, 2, 4, 192, True), ("mbconv", 3, 24, 1, 6, 256, True), ("mbconv", 3, 32, 2, 6, 512, True),
           ("mbconv", 3, 8, 1, 6, 640, True)),
    "base": (("conv", 3, 1, 1, 1, 16, False), ("fused", 3, 2, 2, 4, 32, False), ("fused", 3, 2, 2, 4, 48, False),
             ("mbconv", 3, 3, 2, 4, 96, True), ("mbconv", 3, 5, 1, 6, 112, True), ("mbconv", 3, 8, 2, 6, 192, True)),
}  # fmt: skip


@dataclass(frozen=True)
class Scaling:
    """How a variant is drawn from a table: stem and head widths before scaling, the width
    multiplier, the depth multiplier (one, or one per stage; repeats ``ceil(repeats * depth)``)
    and timm's ``round_limit`` of the channel rounding."""

    table: str
    stem: int
    head: int
    width: float = 1.0
    depth: float | tuple[float, ...] = 1.0
    round_limit: float = 0.9


SCALINGS: dict[str, Scaling] = {
    "s": Scaling("s", 24, 1280), "m": Scaling("m", 24, 1280), "l": Scaling("l", 32, 1280), "xl": Scaling("xl", 32, 1280),
    "b0": Scaling("base", 32, 1280, round_limit=0.0), "b1": Scaling("base", 32, 1280, 1.0, 1.1, 0.0),
    "b2": Scaling("base", 32, 1280, 1.1, 1.2, 0.0), "b3": Scaling("base", 32, 1280, 1.2, 1.4, 0.0),
    "rw_t": Scaling("s", 24, 1280, 0.8, 0.9), "rw_s": Scaling("s_rw", 24, 1792),
    "rw_m": Scaling("s_rw", 24, 1792, 1.2, (1.2,) * 4 + (1.6,) * 2),
}  # fmt: skip
VARIANTS: tuple[str, ...] = tuple(SCALINGS)


@dataclass(frozen=True)
class EfficientNetV2Spec:
    """The structure of one EfficientNetV2 (see the module docstring for every field)."""

    variant: str
    attention: Literal["se", "gc"] = "se"
    bn_eps: float = DEFAULT_BN_EPS
    padding: Literal["symmetric", "same"] = "symmetric"

    family = "efficientnet_v2"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown EfficientNetV2 variant {self.variant!r} (known: {', '.join(VARIANTS)})")

    @property
    def id(self) -> str:
        """``efficientnet_v2_s_bneps1e-3`` (torchvision), ``efficientnet_v2_s_bneps1e-3_samepad``
        (timm ``tf_efficientnetv2_s``), ``efficientnet_v2_rw_t_gc`` (timm ``gc_efficientnetv2_rw_t``)."""
        out = f"efficientnet_v2_{self.variant}"
        if self.attention != "se":
            out += f"_{self.attention}"
        if self.bn_eps != DEFAULT_BN_EPS:
            out += "_bneps" + f"{self.bn_eps:.0e}".replace("e-0", "e-")
        if self.padding == "same":
            out += "_samepad"
        return out
