"""The MobileNetV3 family's structure (Howard et al. 2019), as pure data.

A ``MobileNetV3Spec`` says which function a MobileNetV3 computes; two entries share its ``id`` only
when they compute the same function from the same weights. The skeleton: a 3x3/2 stem conv with
hardswish, inverted residual blocks (3x3/5x5 depthwise, ReLU or hardswish, some with
squeeze-excitation whose gate is a hard sigmoid), a 1x1 conv to 960 (large) / 576 (small) channels
with BN and hardswish, global average pooling, then the head: a layer to ``head_channels`` with
hardswish and a Linear classifier.

Fields, with who sets what:

- ``variant``: the block table: 'large', 'small' (the paper's; torchvision, timm ``mobilenetv3_*`` and
  ``tf_mobilenetv3_*``), 'large_minimal' / 'small_minimal' (timm ``tf_mobilenetv3_*_minimal_100``:
  ReLU only, 3x3 kernels, no SE), 'large_rw' (timm ``mobilenetv3_rw``: a first block without its
  skip, SE reduced with the block's own activation and plain rounding, and a conv head without bias).
- ``width``: the channel multiplier (``round_channels(c * width, 8)``): timm ``_050/_075/_100/_150d``,
  torchvision ``width_mult``.
- ``depth``: the repeats multiplier (``ceil``): timm ``mobilenetv3_large_150d`` has 1.2.
- ``stem_channels``: the stem's width; 16 scaled by ``width`` in torchvision, but timm keeps 16 below
  width 0.75 (``fix_stem``).
- ``head``: 'conv' (timm: a 1x1 conv with bias on the pooled features, then hardswish and the
  Linear classifier) or 'linear' (torchvision: ``classifier = Linear, Hardswish, Dropout, Linear``).
  The two compute the same numbers but their parameters have other shapes and the exported graphs
  other ops, so they are told apart.
- ``head_channels``: the head layer's width: 1280 (large) / 1024 (small) in timm at every width;
  torchvision scales it by ``width``.
- ``bn_eps``: 1e-5 (PyTorch's default: timm's own ``mobilenetv3_*``) or 1e-3 (TF's: torchvision,
  timm ``tf_mobilenetv3_*`` and ``mobilenetv3_rw``).
- ``padding``: 'symmetric' (k // 2 on every side) or 'same' (TF's asymmetric "same" padding of the
  strided convs: timm ``tf_*``).
- ``head_bias``: whether the 'conv' head's 1x1 conv has a bias (timm: yes; GluonCV and PaddleClas: no).
- ``classifier``: 'linear' or 'conv' (GluonCV: the classifier is a 1x1 conv with bias before the
  flatten).
- ``se_gate_slope``: the SE gate ``clip(slope * x + 0.5, 0, 1)``: 1/6 is the hard sigmoid
  ``relu6(x + 3) / 6`` of every zoo but PaddleClas, whose gate has slope 0.2.
- ``se_rounding``: the SE's squeeze width from a quarter of the block's channels: 'divisible8'
  (``round_channels``; GluonCV's ceil to 8 gives the same numbers for its two tables) or 'floor'
  (PaddleClas: ``channels // 4``).
- ``expand_always``: PaddleClas gives a block a 1x1 expansion conv even where the expanded width equals
  the input width (the first block of 'large'); the other zoos leave it out there.
- ``eval_dropout_scale``: what the head's dropout multiplies by at evaluation: 1.0 everywhere but
  PaddleClas (``Dropout(0.2, mode="downscale_in_infer")``: 0.8).
- ``expansion``: how a block's expanded width follows ``width``: 'ratio' (timm, and mmpretrain's
  small-050/075 tables copied from it: the block's input channels times the table's expansion
  ratio at width 1, rounded) or 'scaled' (PaddleClas: the table's expanded channels times
  ``width``, rounded). Set to 'ratio' wherever both give the same channels (every width-1.0
  network), so it names a difference only where there is one (``expanded_channels``).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Variant = Literal["large", "small", "large_minimal", "small_minimal", "large_rw"]
VARIANTS: tuple[str, ...] = ("large", "small", "large_minimal", "small_minimal", "large_rw")
DEFAULT_BN_EPS = 1e-5
#: the head layer's width at width 1.0
HEAD_CHANNELS = {"large": 1280, "small": 1024}
#: the paper's block tables (Tables 1 and 2), at width 1.0: per block (kernel, expanded channels,
#: output channels, squeeze-excitation, activation, stride); the last 1x1 conv has the last
#: block's expanded width (960 / 576)
BLOCKS: dict[str, tuple[tuple[int, int, int, bool, str, int], ...]] = {
    "large": (
        (3, 16, 16, False, "relu", 1),
        (3, 64, 24, False, "relu", 2),
        (3, 72, 24, False, "relu", 1),
        (5, 72, 40, True, "relu", 2),
        (5, 120, 40, True, "relu", 1),
        (5, 120, 40, True, "relu", 1),
        (3, 240, 80, False, "hardswish", 2),
        (3, 200, 80, False, "hardswish", 1),
        (3, 184, 80, False, "hardswish", 1),
        (3, 184, 80, False, "hardswish", 1),
        (3, 480, 112, True, "hardswish", 1),
        (3, 672, 112, True, "hardswish", 1),
        (5, 672, 160, True, "hardswish", 2),
        (5, 960, 160, True, "hardswish", 1),
        (5, 960, 160, True, "hardswish", 1),
    ),
    "small": (
        (3, 16, 16, True, "relu", 2),
        (3, 72, 24, False, "relu", 2),
        (3, 88, 24, False, "relu", 1),
        (5, 96, 40, True, "hardswish", 2),
        (5, 240, 40, True, "hardswish", 1),
        (5, 240, 40, True, "hardswish", 1),
        (5, 120, 48, True, "hardswish", 1),
        (5, 144, 48, True, "hardswish", 1),
        (5, 288, 96, True, "hardswish", 2),
        (5, 576, 96, True, "hardswish", 1),
        (5, 576, 96, True, "hardswish", 1),
    ),
}


def round_channels(channels: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """The zoos' channel rounding: to a multiple of ``divisor``, never below ``round_limit`` x
    ``channels`` (90%; timm's EfficientNetV2-B0..B3 round with no limit, 0)."""
    out = max(divisor, int(channels + divisor / 2) // divisor * divisor)
    return out + divisor if out < round_limit * channels else out


@dataclass(frozen=True)
class MobileNetV3Spec:
    """The structure of one MobileNetV3 (see the module docstring for every field)."""

    variant: Variant
    width: float = 1.0
    depth: float = 1.0
    stem_channels: int = 16
    head: Literal["conv", "linear"] = "conv"
    head_channels: int = 0  # 0: HEAD_CHANNELS of the variant's size
    bn_eps: float = DEFAULT_BN_EPS
    padding: Literal["symmetric", "same"] = "symmetric"
    head_bias: bool = True
    classifier: Literal["linear", "conv"] = "linear"
    se_gate_slope: float = 1 / 6
    se_rounding: Literal["divisible8", "floor"] = "divisible8"
    expand_always: bool = False
    eval_dropout_scale: float = 1.0
    expansion: Literal["ratio", "scaled"] = "ratio"

    family = "mobilenet_v3"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown MobileNetV3 variant {self.variant!r} (known: {', '.join(VARIANTS)})")
        if self.width <= 0 or self.depth <= 0:
            raise ValueError(f"width and depth multipliers must be positive, not {self.width}, {self.depth}")
        if not self.head_channels:
            object.__setattr__(self, "head_channels", HEAD_CHANNELS[self.size])
        if self.variant in BLOCKS and expanded_channels(self.variant, self.width, self.stem_channels, "scaled") == expanded_channels(
            self.variant, self.width, self.stem_channels, "ratio"
        ):
            object.__setattr__(self, "expansion", "ratio")

    @property
    def size(self) -> str:
        return self.variant.split("_")[0]

    @property
    def id(self) -> str:
        """``mobilenet_v3_large_100`` (timm's own), ``mobilenet_v3_large_100_linearhead_bneps1e-3``
        (torchvision), ``mobilenet_v3_large_100_bneps1e-3_samepad`` (timm ``tf_``); a stem or head
        width other than the usual one for the width is spelled out (``_stem16``, ``_head960``), and so
        is each field below ``padding`` that differs from its default (GluonCV
        ``mobilenet_v3_large_100_headnobias_convclassifier``)."""
        out = f"mobilenet_v3_{self.variant}_{round(self.width * 100):03d}"
        if self.depth != 1.0:
            out += f"_depth{round(self.depth * 100):03d}"
        if self.stem_channels != round_channels(16 * self.width):
            out += f"_stem{self.stem_channels}"
        if self.head == "linear":
            out += "_linearhead"
        if self.head_channels != HEAD_CHANNELS[self.size]:
            out += f"_head{self.head_channels}"
        if self.bn_eps != DEFAULT_BN_EPS:
            out += "_bneps" + f"{self.bn_eps:.0e}".replace("e-0", "e-")
        if self.padding == "same":
            out += "_samepad"
        if not self.head_bias:
            out += "_headnobias"
        if self.classifier != "linear":
            out += f"_{self.classifier}classifier"
        if self.se_gate_slope != 1 / 6:
            out += f"_segate{self.se_gate_slope:g}"
        if self.se_rounding != "divisible8":
            out += f"_se{self.se_rounding}"
        if self.expand_always:
            out += "_expandalways"
        if self.eval_dropout_scale != 1.0:
            out += f"_evaldropout{self.eval_dropout_scale:g}"
        if self.expansion != "ratio":
            out += f"_expand{self.expansion}"
        return out


def expanded_channels(variant: str, width: float, stem_channels: int, rule: str) -> list[int]:
    """Each block's expanded width in the ``variant``'s table at ``width`` under the ``expansion``
    rule (spec field): 'ratio' rounds the block's input channels times the table's ratio (timm
    writes it with two decimals: 3.67 for 88 / 24), 'scaled' the table's expanded channels times
    ``width``."""
    out, cin, cin_at_1 = [], stem_channels, 16
    for _, expanded, channels, *_ in BLOCKS[variant]:
        out.append(round_channels(cin * round(expanded / cin_at_1, 2)) if rule == "ratio" else round_channels(expanded * width))
        cin, cin_at_1 = round_channels(channels * width), channels
    return out
