"""The canonical weights of an EfficientNetV2: EfficientNet's canonical form
(``families/efficientnet/canonical.py``: its names, numpy forward and TF "same" pads) drawn from
the ``Skeleton`` of an ``EfficientNetV2Spec``.

The first stages are fused blocks: ``stage{s}.{i}.fused`` (3x3, the stage's stride on its first
block) + ``fused_bn``, then ``project`` + ``project_bn`` (timm's ``er``), or the fused conv
alone with its activation where the table says one conv (timm's ``cn``, torchvision's
FusedMBConv at expansion 1); the later stages are EfficientNet's MBConv blocks with SE squeezed
to a quarter of the block's input width. SiLU everywhere. Pure numpy.
"""

from __future__ import annotations

import math

import numpy as np

from zoocheck.families.efficientnet.canonical import (
    Block,
    Skeleton,
    skeleton_forward,
    skeleton_layer_outputs,
    skeleton_parameter_shapes,
)
from zoocheck.families.efficientnet_v2.spec import SCALINGS, TABLES, EfficientNetV2Spec
from zoocheck.families.mobilenet_v3.spec import round_channels
from zoocheck.zoo_registry.types import Architecture


class NoCanonicalEfficientNetV2(ValueError):
    """A variant whose canonical form zoocheck does not draw yet."""


def skeleton(spec: EfficientNetV2Spec) -> Skeleton:
    """The blocks in order: each stage's repeats ``ceil(repeats * depth)``, widths (stem, head
    and every stage) rounded to multiples of 8 as the variant's scaling says."""
    if spec.attention != "se":
        raise NoCanonicalEfficientNetV2(f"{spec.id}: no canonical form yet for {spec.attention!r} attention")
    scaling = SCALINGS[spec.variant]
    table = TABLES[scaling.table]
    depths = scaling.depth if isinstance(scaling.depth, tuple) else (scaling.depth,) * len(table)

    def width(channels: int) -> int:
        return round_channels(channels * scaling.width, round_limit=scaling.round_limit)

    stem = cin = width(scaling.stem)
    out = []
    for stage, ((kind, kernel, repeats, stride, expansion, channels, se), depth) in enumerate(zip(table, depths), start=1):
        cout = width(channels)
        for index in range(math.ceil(repeats * depth)):
            fused = kind != "mbconv"
            mid = cout if kind == "conv" else cin * expansion
            out.append(
                Block(
                    stage,
                    index,
                    cin,
                    mid,
                    cout,
                    kernel,
                    stride if index == 0 else 1,
                    cin // 4 if se else 0,
                    fused=fused,
                    projects=kind != "conv",
                )
            )
            cin = cout
    return Skeleton(spec.id, stem, tuple(out), width(scaling.head), spec.bn_eps, spec.padding)


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    return skeleton_parameter_shapes(skeleton(arch.structure), arch.num_classes)


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Each block's ``project`` (``skeleton_layer_outputs``)."""
    return skeleton_layer_outputs(skeleton(arch.structure))


def forward(arch: Architecture, params: dict[str, np.ndarray], x: np.ndarray, **kwargs) -> np.ndarray:
    """``arch``'s logits (``skeleton_forward``'s keywords)."""
    return skeleton_forward(skeleton(arch.structure), params, x, **kwargs)
