"""The MobileNetV2 family's structure (Sandler et al. 2018), as pure data.

A ``MobileNetV2Spec`` says which function a MobileNetV2 computes; two entries share its ``id`` only
when they compute the same function from the same weights. Every zoo builds the same skeleton: a 3x3/2
stem conv (32 channels at width 1), seven stages of inverted residual blocks (the first without an
expansion conv), a 1x1 conv head to 1280 channels with BN and activation, global average pooling and
a Linear classifier.

Fields, with who sets what:

- ``width``: the channel multiplier; every channel count is ``round_channels(c * width, 8)`` (at least
  90% of the exact value): torchvision ``width_mult``, timm's ``mobilenetv2_050/100/140``, and the
  ``110d``/``120d`` widths 1.1/1.2. The head is ``max(1280, round_channels(1280 * width))`` in every
  zoo, so widths below 1 keep 1280.
- ``depth``: timm's ``depth_multiplier`` (``110d``: 1.2, ``120d``: 1.4): each stage's repeats
  ``ceil(n * depth)``; 1.0 everywhere else.
- ``fix_stem_head``: timm's ``fix_stem_head`` (the ``d`` models): the stem stays 32 channels, the head
  1280, and the first and last stages keep their repeats; False for every other zoo.
- ``activation``: 'relu6' (every zoo's MobileNetV2) or 'relu'.
- ``bn_eps``: the batch norms' epsilon: 1e-5 (PyTorch's default: torchvision, timm) unless a zoo ports
  TF weights with TF's 1e-3.
- ``channel_rounding``: 'divisible8' (``round_channels``: torchvision, timm, mmpretrain) or 'truncate'
  (``int(c * width)``: GluonCV/MXNet and PaddleClas). Set to 'divisible8' wherever both give the same
  channels (every width-1.0 and width-2.0 network), so it names a difference only where there is one.
- ``expand_first``: PaddleClas gives the first block (expansion 1) a 1x1 expansion conv too (32 -> 32
  channels, BN, ReLU6); every other zoo has none there.
- ``classifier``: 'linear' (a Linear with bias) or 'conv_nobias' (GluonCV/MXNet: a 1x1 conv without
  bias on the pooled features).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from zoocheck.families.mobilenet_v3.spec import round_channels

DEFAULT_BN_EPS = 1e-5
#: the stem's and the seven stages' channels at width 1.0
CHANNELS = (32, 16, 24, 32, 64, 96, 160, 320)


@dataclass(frozen=True)
class MobileNetV2Spec:
    """The structure of one MobileNetV2 (see the module docstring for every field)."""

    width: float = 1.0
    depth: float = 1.0
    fix_stem_head: bool = False
    activation: Literal["relu6", "relu"] = "relu6"
    bn_eps: float = DEFAULT_BN_EPS
    channel_rounding: Literal["divisible8", "truncate"] = "divisible8"
    expand_first: bool = False
    classifier: Literal["linear", "conv_nobias"] = "linear"

    family = "mobilenet_v2"

    def __post_init__(self) -> None:
        if self.width <= 0 or self.depth <= 0:
            raise ValueError(f"width and depth multipliers must be positive, not {self.width}, {self.depth}")
        if all(int(c * self.width) == round_channels(c * self.width) for c in CHANNELS):
            object.__setattr__(self, "channel_rounding", "divisible8")

    @property
    def id(self) -> str:
        """``mobilenet_v2_100``, ``mobilenet_v2_050``, ``mobilenet_v2_110_depth120_fixedstemhead``;
        ``_relu``, ``_bneps1e-3``, ``_truncated``, ``_expandfirst`` and ``_convclassifier`` where
        those differ from the usual (``mobilenet_v2_100_convclassifier``: GluonCV)."""
        out = f"mobilenet_v2_{round(self.width * 100):03d}"
        if self.depth != 1.0:
            out += f"_depth{round(self.depth * 100):03d}"
        if self.fix_stem_head:
            out += "_fixedstemhead"
        if self.activation != "relu6":
            out += f"_{self.activation}"
        if self.bn_eps != DEFAULT_BN_EPS:
            out += "_bneps" + f"{self.bn_eps:.0e}".replace("e-0", "e-")
        if self.channel_rounding != "divisible8":
            out += "_truncated"
        if self.expand_first:
            out += "_expandfirst"
        if self.classifier != "linear":
            out += "_convclassifier"
        return out
