"""The ResNet family's structure, in one place: every zoo's ResNet, ResNeXt and wide ResNet is a
``ResNetSpec``, and every piece of code that needs the structure (the registry's ids, the family's
canonical graph, weights and layouts beside this module, the converters' networks) reads it from
here.

What the fields mean, with the zoos' names for them:

- ``layers``: blocks per stage (``STANDARD_LAYERS`` holds the usual table per depth);
- ``block``: 'basic' (two 3x3 convs; ResNet-18/34) or 'bottleneck' (1x1, 3x3, 1x1; expansion 4);
- ``preact``: MXNet Gluon's v2 (pre-activation, He et al. 2016b): BN-ReLU before each conv, an
  un-learned BatchNorm on the input, a final BN-ReLU before the pooling;
- ``stride_on``: where a downsampling bottleneck strides: '1x1' on its first 1x1 (the original
  paper, MXNet Gluon v1, whose bottleneck 1x1 convs also carry a bias) or '3x3' on the 3x3 ('b',
  "ResNet v1.5": torchvision, timm, mmpretrain, PaddleClas). A basic block has no 1x1 in its
  branch and strides on its first 3x3 either way, so for basic blocks the field only records the
  lineage (MXNet's resnet18_v1 computes what torchvision's resnet18 does);
- ``stem``: '7x7' (conv 7x7/2, 64 wide), 'deep' (three 3x3 convs 32, 32, 64: timm 'c'/'d',
  GluonCV v1c/v1d, mmpretrain V1c/V1d, PaddleClas vc/vd) or 'deep_wide' (64, 64, 128: timm 's',
  GluonCV v1s); then max-pool 3x3/2;
- ``shortcut``: the projection on a downsampling block: 'conv' (1x1 conv with the stride) or
  'avgpool_conv' (avg-pool 2x2/2, ceil mode, padding excluded, then a 1x1 conv: the 'd' variant);
- ``groups`` / ``width_per_group``: the 3x3's cardinality and width per group at stage 1
  (ResNeXt 32x4d; wide ResNet-50-2 is groups 1, width 128);
- ``project_first``: PaddleClas's ResNet/ResNet_vc/ResNet_vd give the first block of EVERY stage a
  projection shortcut; it changes the function only where the shapes already match, which is
  stage 1 of a basic-block net (a 1x1 conv 64 -> 64 torchvision does not have), so it is only
  allowed there.

Pure Python: imports nothing of zoocheck and no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Block = Literal["basic", "bottleneck"]
Stem = Literal["7x7", "deep", "deep_wide"]
Shortcut = Literal["conv", "avgpool_conv"]

#: the usual blocks per stage for each depth. 200 is PaddleClas's ResNet200_vd (3, 12, 48, 3); timm's
#: resnet200d follows He et al. 2016b (3, 24, 36, 3), which its id then spells out.
STANDARD_LAYERS: dict[int, tuple[int, int, int, int]] = {
    18: (2, 2, 2, 2),
    26: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 12, 48, 3),
}

#: output channels of the stem's convolutions
STEM_CHANNELS: dict[str, tuple[int, ...]] = {"7x7": (64,), "deep": (32, 32, 64), "deep_wide": (64, 64, 128)}

BASE_WIDTH = 64  # stage-1 planes; stage s has BASE_WIDTH * 2**s
EXPANSION = {"basic": 1, "bottleneck": 4}


@dataclass(frozen=True)
class ResNetSpec:
    """The structure of one ResNet-family network (see the module docstring for every field)."""

    layers: tuple[int, ...]
    block: Block
    preact: bool = False
    stride_on: Literal["1x1", "3x3"] = "3x3"
    stem: Stem = "7x7"
    shortcut: Shortcut = "conv"
    groups: int = 1
    width_per_group: int = BASE_WIDTH
    project_first: bool = False

    family = "resnet"

    def __post_init__(self) -> None:
        if len(self.layers) != 4 or min(self.layers) < 1:
            raise ValueError(f"a ResNet has four stages of at least one block, not {self.layers}")
        if (self.preact or self.stride_on == "1x1") and (self.stem, self.shortcut) != ("7x7", "conv"):
            raise ValueError("the v1 (stride on the 1x1) and v2 (pre-activation) blocks come with the 7x7 stem and conv shortcut")
        if self.preact and self.stride_on == "1x1":
            raise ValueError("MXNet's v2 (pre-activation) bottleneck strides on its 3x3")
        if self.stem == "7x7" and self.shortcut == "avgpool_conv" or self.stem == "deep_wide" and self.shortcut != "conv":
            raise ValueError(f"no zoo builds the {self.stem} stem with a {self.shortcut} shortcut")
        if self.project_first and (self.block != "basic" or self.stem_channels != BASE_WIDTH):
            raise ValueError("project_first changes nothing where stage 1's first block projects anyway")
        if self.groups > 1 and self.block != "bottleneck":
            raise ValueError("grouped 3x3 convolutions (ResNeXt) need bottleneck blocks")

    # -- derived structure -------------------------------------------------------------------

    @property
    def depth(self) -> int:
        """Weighted layers: the stem's first conv, every block's convs, the classifier."""
        return 2 + sum(self.layers) * (3 if self.block == "bottleneck" else 2)

    @property
    def expansion(self) -> int:
        return EXPANSION[self.block]

    @property
    def stem_channels(self) -> int:
        return STEM_CHANNELS[self.stem][-1]

    def planes(self, stage: int) -> int:
        return BASE_WIDTH * 2**stage

    def out_channels(self, stage: int) -> int:
        return self.planes(stage) * self.expansion

    def mid_channels(self, stage: int) -> int:
        """Width of a bottleneck's 3x3 (of a basic block: its planes)."""
        if self.block == "basic":
            return self.planes(stage)
        return self.planes(stage) * self.width_per_group // BASE_WIDTH * self.groups

    def stride(self, stage: int, index: int) -> int:
        return 2 if stage > 0 and index == 0 else 1

    def projects(self, stage: int, index: int) -> bool:
        """Whether block ``index`` of ``stage`` has a projection shortcut (else identity)."""
        if index > 0:
            return False
        cin = self.stem_channels if stage == 0 else self.out_channels(stage - 1)
        return self.project_first or self.stride(stage, index) != 1 or cin != self.out_channels(stage)

    @property
    def feature_channels(self) -> int:
        return self.out_channels(3)

    # -- identity ------------------------------------------------------------------------------

    @property
    def variant(self) -> str:
        """The zoos' letter: 'b' (7x7 stem), 'c', 'd', 's' (deep stems), 'v1', 'v2' (MXNet)."""
        if self.preact:
            return "v2"
        if self.stride_on == "1x1":
            return "v1"
        if self.stem == "deep":
            return "d" if self.shortcut == "avgpool_conv" else "c"
        return "s" if self.stem == "deep_wide" else "b"

    @property
    def id(self) -> str:
        """``resnet50``, ``resnet50_d``, ``resnext101_32x4d_d``, ``wide_resnet50_2``, ``resnet18_proj``
        (PaddleClas's stage-1 projection), ``resnet200_l3-24-36-3_d`` (a non-standard layer table)."""
        if self.groups > 1:
            base = f"resnext{self.depth}_{self.groups}x{self.width_per_group}d"
        elif self.width_per_group != BASE_WIDTH:
            base = f"wide_resnet{self.depth}_{self.width_per_group // BASE_WIDTH}"
        else:
            base = f"resnet{self.depth}"
        if STANDARD_LAYERS.get(self.depth) != tuple(self.layers):
            base += "_l" + "-".join(map(str, self.layers))
        if self.variant != "b":
            base += f"_{self.variant}"
        return base + ("_proj" if self.project_first else "")


_VARIANT_STRUCTURE: dict[str, dict] = {
    "b": {},
    "c": {"stem": "deep"},
    "d": {"stem": "deep", "shortcut": "avgpool_conv"},
    "s": {"stem": "deep_wide"},
    "v1": {"stride_on": "1x1"},
    "v2": {"preact": True},
}
VARIANTS = tuple(_VARIANT_STRUCTURE)


def resnet(
    depth: int,
    variant: str = "b",
    *,
    groups: int = 1,
    width_per_group: int = BASE_WIDTH,
    layers: tuple[int, ...] | None = None,
    project_first: bool = False,
) -> ResNetSpec:
    """The spec a zoo means by depth + variant letter (+ ResNeXt groups/width, wide width).

    ``layers`` defaults to the standard table for ``depth``; ValueError for a depth without one or
    an unknown variant letter."""
    if variant not in _VARIANT_STRUCTURE:
        raise ValueError(f"unknown ResNet variant {variant!r} (known: {', '.join(VARIANTS)})")
    if layers is None:
        if depth not in STANDARD_LAYERS:
            raise ValueError(f"no standard ResNet of depth {depth} (known: {', '.join(map(str, STANDARD_LAYERS))})")
        layers = STANDARD_LAYERS[depth]
    block: Block = "basic" if depth in (18, 34) else "bottleneck"
    spec = ResNetSpec(
        layers=tuple(layers),
        block=block,
        groups=groups,
        width_per_group=width_per_group,
        project_first=project_first,
        **_VARIANT_STRUCTURE[variant],
    )
    if spec.depth != depth:
        raise ValueError(f"layers {layers} with {block} blocks make a ResNet-{spec.depth}, not {depth}")
    return spec


def resnet_spec(arch) -> ResNetSpec | None:
    """The ResNetSpec an ``Architecture`` holds; None for another family's or a library's network."""
    return arch.structure if isinstance(arch.structure, ResNetSpec) else None
