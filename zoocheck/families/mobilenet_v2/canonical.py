"""The canonical weights of a MobileNetV2: one naming for every source, their shapes, and a numpy
forward computing exactly the network the ``MobileNetV2Spec`` describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stem.conv`` (3x3/2) + ``stem.bn``;
- block ``i`` (0-based) of stage ``s`` (1..7): ``stage{s}.{i}.expand`` (1x1, where the block has
  an expansion conv) + ``expand_bn``, ``stage{s}.{i}.depthwise`` (3x3, one group per channel) +
  ``depthwise_bn``, ``stage{s}.{i}.project`` (1x1, no activation) + ``project_bn``; the input is
  added back where the block keeps width and resolution;
- ``head.conv`` (1x1) + ``head.bn``, then the global average pool and ``fc`` [classes, features]
  (``fc.bias`` except for GluonCV's bias-free 1x1-conv classifier).

Convolutions have no bias; batch norms ``weight``, ``bias``, ``running_mean``, ``running_var``
(epsilon ``spec.bn_eps``); every activation but the projection's is the spec's (ReLU6 or ReLU).
Pure numpy: no framework is imported here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from zoocheck.families.mobilenet_v2.spec import CHANNELS, MobileNetV2Spec
from zoocheck.families.mobilenet_v3.spec import round_channels
from zoocheck.families.resnet.canonical import BN_FIELDS, BatchNormHook, batch_norm, conv2d
from zoocheck.zoo_registry.types import Architecture

#: per stage (expansion, repeats, stride of its first block): the paper's Table 2
STAGES = ((1, 1, 1), (6, 2, 2), (6, 3, 2), (6, 4, 2), (6, 3, 1), (6, 3, 2), (6, 1, 1))
HEAD_CHANNELS = 1280


class Block(NamedTuple):
    prefix: str  # 'stage{s}.{i}'
    cin: int
    mid: int
    cout: int
    stride: int
    expand: bool  # whether it has the 1x1 expansion conv
    skip: bool  # whether its input is added back


def channels(spec: MobileNetV2Spec, c: int) -> int:
    """``c`` channels at the spec's width, rounded as the spec's zoo rounds them."""
    return int(c * spec.width) if spec.channel_rounding == "truncate" else round_channels(c * spec.width)


def stem_channels(spec: MobileNetV2Spec) -> int:
    return CHANNELS[0] if spec.fix_stem_head else channels(spec, CHANNELS[0])


def head_channels(spec: MobileNetV2Spec) -> int:
    return HEAD_CHANNELS if spec.fix_stem_head else max(HEAD_CHANNELS, channels(spec, HEAD_CHANNELS))


def blocks(spec: MobileNetV2Spec) -> list[Block]:
    """Every inverted residual block, in order."""
    out, cin = [], stem_channels(spec)
    for stage, (c, (expansion, repeats, stride)) in enumerate(zip(CHANNELS[1:], STAGES), start=1):
        fixed = spec.fix_stem_head and stage in (1, len(STAGES))
        cout = channels(spec, c)
        for index in range(repeats if fixed else math.ceil(repeats * spec.depth)):
            s = stride if index == 0 else 1
            expand = expansion != 1 or (spec.expand_first and stage == 1)
            out.append(Block(f"stage{stage}.{index}", cin, cin * expansion, cout, s, expand, s == 1 and cin == cout))
            cin = cout
    return out


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    spec: MobileNetV2Spec = arch.structure
    shapes: dict[str, tuple[int, ...]] = {}

    def conv_bn(conv: str, norm: str, cin: int, cout: int, kernel: int, groups: int = 1) -> None:
        shapes[f"{conv}.weight"] = (cout, cin // groups, kernel, kernel)
        shapes.update({f"{norm}.{f}": (cout,) for f in BN_FIELDS})

    conv_bn("stem.conv", "stem.bn", 3, stem_channels(spec), 3)
    for b in blocks(spec):
        if b.expand:
            conv_bn(f"{b.prefix}.expand", f"{b.prefix}.expand_bn", b.cin, b.mid, 1)
        conv_bn(f"{b.prefix}.depthwise", f"{b.prefix}.depthwise_bn", b.mid, b.mid, 3, b.mid)
        conv_bn(f"{b.prefix}.project", f"{b.prefix}.project_bn", b.mid, b.cout, 1)
    features = head_channels(spec)
    conv_bn("head.conv", "head.bn", blocks(spec)[-1].cout, features, 1)
    shapes["fc.weight"] = (arch.num_classes, features)
    if spec.classifier == "linear":
        shapes["fc.bias"] = (arch.num_classes,)
    return shapes


def projection_outputs(units) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    inverted-residual block's projection (its batch norm folded in; no activation follows it, so
    torchvision's BatchNorm2d and timm's BatchNormAct2d compute the same tensor there)."""
    return {f"{b.prefix}.project": f"{b.prefix}.project_bn" for b in units}


def layer_outputs(arch: Architecture) -> dict[str, str]:
    return projection_outputs(blocks(arch.structure))


def depthwise_conv2d(x: np.ndarray, w: np.ndarray, stride: int = 1, pads: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """NHWC depthwise convolution (one group per channel), ``w`` [C, 1, k, k], padding k // 2 on
    every side unless ``pads`` (top, left, bottom, right) says otherwise: one multiply-add per
    kernel tap over the whole map."""
    n, h, width, c = x.shape
    k = w.shape[-1]
    top, left, bottom, right = pads if pads is not None else (k // 2,) * 4
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    ho, wo = (h + top + bottom - k) // stride + 1, (width + left + right - k) // stride + 1
    taps = np.ascontiguousarray(w.reshape(c, k, k).transpose(1, 2, 0), dtype=x.dtype)
    out = np.zeros((n, ho, wo, c), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            out += xp[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride, :] * taps[i, j]
    return out


def forward(
    arch: Architecture,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    measure: BatchNormHook | None = None,
    features: list | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``arch``'s logits for NCHW ``x``, computed from canonical ``params`` in ``dtype``;
    ``measure`` and ``features`` as the ResNet family's forward takes them (before each batch norm,
    channels last; the pooled features ``fc`` sees)."""
    spec: MobileNetV2Spec = arch.structure
    p = params
    act = (lambda y: np.clip(y, 0, 6)) if spec.activation == "relu6" else (lambda y: np.maximum(y, 0))  # noqa: E731

    def bn(name: str, y: np.ndarray) -> np.ndarray:
        return batch_norm(p, name, y, spec.bn_eps, dtype, measure)

    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    y = act(bn("stem.bn", conv2d(y, p["stem.conv.weight"], 2)))
    for b in blocks(spec):
        z = act(bn(f"{b.prefix}.expand_bn", conv2d(y, p[f"{b.prefix}.expand.weight"]))) if b.expand else y
        z = act(bn(f"{b.prefix}.depthwise_bn", depthwise_conv2d(z, p[f"{b.prefix}.depthwise.weight"], b.stride)))
        z = bn(f"{b.prefix}.project_bn", conv2d(z, p[f"{b.prefix}.project.weight"]))
        y = y + z if b.skip else z
    pooled = act(bn("head.bn", conv2d(y, p["head.conv.weight"]))).mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    logits = pooled @ p["fc.weight"].T.astype(dtype)
    return logits + p["fc.bias"].astype(dtype) if "fc.bias" in p else logits
