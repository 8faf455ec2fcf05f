"""The canonical weights of a MobileNetV3: one naming for every source, their shapes, and a numpy
forward computing exactly the network the ``MobileNetV3Spec`` describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stem.conv`` (3x3/2) + ``stem.bn``, hardswish;
- block ``n`` (1-based, in the variant's table order): ``block{n}.expand`` (1x1, where the block
  has an expansion conv) + ``expand_bn``, ``block{n}.depthwise`` (k x k, one group per channel) +
  ``depthwise_bn``, both with the block's activation; the squeeze-excitation ``block{n}.se.reduce``
  and ``block{n}.se.expand`` (1x1 convs with bias, ReLU between, the hard-sigmoid gate
  ``clip(slope * x + 0.5, 0, 1)`` multiplying the block's features) where the block has one;
  ``block{n}.project`` (1x1, no activation) + ``project_bn``; the input is added back where the
  block keeps width and resolution;
- ``head.conv`` (1x1, to the last block's expanded width) + ``head.bn``, hardswish, then the global
  average pool, ``head.fc1`` (to ``head_channels``: a 1x1 conv [out, in, 1, 1] for the 'conv'
  head, a Linear [out, in] for the 'linear' one; ``bias`` where the spec has one), hardswish, the
  evaluation dropout's scale, and ``fc`` [classes, head_channels] with its bias (GluonCV's 1x1-conv
  classifier is the same matrix).

Convolutions have no bias but the SE's; batch norms ``weight``, ``bias``, ``running_mean``,
``running_var`` (epsilon ``spec.bn_eps``). The tables with TF "same" padding, a depth multiplier,
and the minimal and ``_rw`` variants are not drawn yet (ValueError naming it). Pure numpy: no
framework is imported here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from zoocheck.families.mobilenet_v2.canonical import depthwise_conv2d, projection_outputs
from zoocheck.families.mobilenet_v3.spec import BLOCKS, MobileNetV3Spec, expanded_channels, round_channels
from zoocheck.families.resnet.canonical import BN_FIELDS, BatchNormHook, batch_norm, conv2d
from zoocheck.zoo_registry.types import Architecture


class Block(NamedTuple):
    prefix: str  # 'block{n}'
    kernel: int
    cin: int
    mid: int
    cout: int
    stride: int
    se: int  # the squeeze width, 0 without squeeze-excitation
    act: str  # 'relu' or 'hardswish'
    expand: bool  # whether it has the 1x1 expansion conv
    skip: bool  # whether its input is added back


def require_drawn(spec: MobileNetV3Spec) -> None:
    """ValueError for a spec whose canonical form is not drawn yet, saying which field."""
    if spec.variant not in BLOCKS:
        raise ValueError(f"{spec.id}: no canonical form yet for the {spec.variant!r} table (only {' and '.join(BLOCKS)})")
    if spec.depth != 1.0:
        raise ValueError(f"{spec.id}: no canonical form yet for a depth multiplier ({spec.depth})")
    if spec.padding != "symmetric":
        raise ValueError(f"{spec.id}: no canonical form yet for TF 'same' padding")


def blocks(spec: MobileNetV3Spec) -> list[Block]:
    """Every inverted residual block, in order (ValueError where the spec is not drawn yet)."""
    require_drawn(spec)
    out, cin = [], spec.stem_channels
    mids = expanded_channels(spec.variant, spec.width, spec.stem_channels, spec.expansion)
    for n, ((kernel, _, channels, se, act, stride), mid) in enumerate(zip(BLOCKS[spec.variant], mids), start=1):
        cout = round_channels(channels * spec.width)
        squeeze = (mid // 4 if spec.se_rounding == "floor" else round_channels(mid // 4)) if se else 0
        out.append(
            Block(f"block{n}", kernel, cin, mid, cout, stride, squeeze, act, spec.expand_always or mid != cin, stride == 1 and cin == cout)
        )
        cin = cout
    return out


def last_channels(spec: MobileNetV3Spec) -> int:
    """The width of the 1x1 conv before the pool: the table's last expanded width, scaled."""
    return round_channels(BLOCKS[spec.variant][-1][1] * spec.width)


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    spec: MobileNetV3Spec = arch.structure
    shapes: dict[str, tuple[int, ...]] = {}

    def conv_bn(conv: str, norm: str, cin: int, cout: int, kernel: int, groups: int = 1) -> None:
        shapes[f"{conv}.weight"] = (cout, cin // groups, kernel, kernel)
        shapes.update({f"{norm}.{f}": (cout,) for f in BN_FIELDS})

    conv_bn("stem.conv", "stem.bn", 3, spec.stem_channels, 3)
    units = blocks(spec)
    for b in units:
        if b.expand:
            conv_bn(f"{b.prefix}.expand", f"{b.prefix}.expand_bn", b.cin, b.mid, 1)
        conv_bn(f"{b.prefix}.depthwise", f"{b.prefix}.depthwise_bn", b.mid, b.mid, b.kernel, b.mid)
        if b.se:
            shapes.update(
                {
                    f"{b.prefix}.se.reduce.weight": (b.se, b.mid, 1, 1),
                    f"{b.prefix}.se.reduce.bias": (b.se,),
                    f"{b.prefix}.se.expand.weight": (b.mid, b.se, 1, 1),
                    f"{b.prefix}.se.expand.bias": (b.mid,),
                }
            )
        conv_bn(f"{b.prefix}.project", f"{b.prefix}.project_bn", b.mid, b.cout, 1)
    last = last_channels(spec)
    conv_bn("head.conv", "head.bn", units[-1].cout, last, 1)
    shapes["head.fc1.weight"] = (spec.head_channels, last, 1, 1) if spec.head == "conv" else (spec.head_channels, last)
    if spec.head_bias:
        shapes["head.fc1.bias"] = (spec.head_channels,)
    shapes["fc.weight"] = (arch.num_classes, spec.head_channels)
    shapes["fc.bias"] = (arch.num_classes,)
    return shapes


def layer_outputs(arch: Architecture) -> dict[str, str]:
    return projection_outputs(blocks(arch.structure))


def hard_sigmoid(x: np.ndarray, slope: float = 1 / 6) -> np.ndarray:
    return np.clip(x * x.dtype.type(slope) + x.dtype.type(0.5), 0, 1)


def hardswish(x: np.ndarray) -> np.ndarray:
    return x * hard_sigmoid(x)


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
    channels last; the features ``fc`` sees)."""
    spec: MobileNetV3Spec = arch.structure
    p = params
    acts = {"relu": lambda y: np.maximum(y, 0), "hardswish": hardswish}

    def bn(name: str, y: np.ndarray) -> np.ndarray:
        return batch_norm(p, name, y, spec.bn_eps, dtype, measure)

    def dense(name: str, y: np.ndarray) -> np.ndarray:  # a 1x1 conv or Linear on [N, C] features
        weight = p[f"{name}.weight"]
        out = y @ weight.reshape(weight.shape[0], -1).T.astype(dtype)
        return out + p[f"{name}.bias"].astype(dtype) if f"{name}.bias" in p else out

    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    y = hardswish(bn("stem.bn", conv2d(y, p["stem.conv.weight"], 2)))
    for b in blocks(spec):
        act = acts[b.act]
        z = act(bn(f"{b.prefix}.expand_bn", conv2d(y, p[f"{b.prefix}.expand.weight"]))) if b.expand else y
        z = act(bn(f"{b.prefix}.depthwise_bn", depthwise_conv2d(z, p[f"{b.prefix}.depthwise.weight"], b.stride)))
        if b.se:
            squeezed = np.maximum(dense(f"{b.prefix}.se.reduce", z.mean(axis=(1, 2))), 0)
            z = z * hard_sigmoid(dense(f"{b.prefix}.se.expand", squeezed), spec.se_gate_slope)[:, None, None, :]
        z = bn(f"{b.prefix}.project_bn", conv2d(z, p[f"{b.prefix}.project.weight"]))
        y = y + z if b.skip else z
    pooled = hardswish(bn("head.bn", conv2d(y, p["head.conv.weight"]))).mean(axis=(1, 2))
    hidden = hardswish(dense("head.fc1", pooled)) * dtype(spec.eval_dropout_scale)
    if features is not None:
        features.append(hidden)
    return dense("fc", hidden)
