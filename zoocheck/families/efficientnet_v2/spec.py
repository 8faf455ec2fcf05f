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

VARIANTS: tuple[str, ...] = ("s", "m", "l", "xl", "b0", "b1", "b2", "b3", "rw_t", "rw_s", "rw_m")
DEFAULT_BN_EPS = 1e-5


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
