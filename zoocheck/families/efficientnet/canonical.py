"""The canonical weights of an EfficientNet: one naming for every source, their shapes, the TF
"same" pads at an input size, and a numpy forward computing exactly the network the
``EfficientNetSpec`` describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stem.conv`` (3x3/2) + ``stem.bn``;
- block ``i`` (0-based) of stage ``s`` (1..7, the paper's table): ``stage{s}.{i}.expand`` (1x1 to
  ``expansion`` x the input width; none at expansion 1) + ``expand_bn``, ``stage{s}.{i}.dw``
  (depthwise k x k, the stage's stride on its first block) + ``dw_bn``, ``stage{s}.{i}.se.reduce``
  / ``se.expand`` (1x1 convolutions with bias: squeeze to a quarter of the block's input width,
  back to the depthwise width), ``stage{s}.{i}.project`` (1x1, no activation) + ``project_bn``;
  the input is added to a block of stride 1 whose width does not change;
- EfficientNetV2's fused blocks: ``stage{s}.{i}.fused`` (k x k, the stride, to ``expansion`` x
  the input width) + ``fused_bn``, then ``project`` + ``project_bn``, or at expansion 1 the fused
  conv alone (to the output width, its activation kept);
- ``head.conv`` (1x1) + ``head.bn``, ``fc`` [classes, features].

SiLU after every batch norm but ``project_bn`` (ReLU6 for the Lite variants, which have no SE);
batch norms ``weight``, ``bias``, ``running_mean``, ``running_var`` (epsilon ``spec.bn_eps``).
A spec with ``padding='same'`` pads its strided convolutions as TF does, from the size each one
sees: the function depends on the input size, so ``pads`` and ``forward`` take it. The
``skeleton_*`` functions draw any ``Skeleton`` (EfficientNetV2's too). Pure numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from zoocheck.families.efficientnet.spec import BLOCKS, HEAD_CHANNELS, STEM_CHANNELS, EfficientNetSpec, same_padding
from zoocheck.families.mobilenet_v3.spec import round_channels
from zoocheck.families.resnet.canonical import BN_FIELDS, BatchNormHook, batch_norm, conv2d
from zoocheck.zoo_registry.types import Architecture


class NoCanonicalEfficientNet(ValueError):
    """A variant whose canonical form zoocheck does not draw yet."""


@dataclass(frozen=True)
class Block:
    """One MBConv block, or (``fused``) EfficientNetV2's fused MBConv: where it is and its widths."""

    stage: int  # 1-based, the paper's table
    index: int  # 0-based within the stage
    cin: int
    mid: int  # the depthwise (fused: the fused conv's) width; MBConv: cin at expansion 1, no expansion conv
    cout: int
    kernel: int
    stride: int
    squeeze: int  # SE width; 0: no SE
    fused: bool = False  # a k x k ``fused`` conv (cin -> mid, the stride) in place of expand + dw
    projects: bool = True  # False: a fused block of one conv (mid == cout), its activation kept

    @property
    def prefix(self) -> str:
        return f"stage{self.stage}.{self.index}"

    @property
    def expands(self) -> bool:
        return not self.fused and self.mid != self.cin

    @property
    def main_conv(self) -> str:
        """The block's k x k convolution, which carries its stride."""
        return f"{self.prefix}.{'fused' if self.fused else 'dw'}"

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.cin == self.cout


@dataclass(frozen=True)
class Skeleton:
    """What the canonical form of an EfficientNet(V2) is drawn from: its widths, its blocks in
    order, its activation and batch-norm epsilon, its padding."""

    id: str
    stem: int
    blocks: tuple[Block, ...]
    head: int
    bn_eps: float
    padding: str  # 'symmetric' or 'same'
    relu6: bool = False  # the Lite variants' activation in place of SiLU


def _require_drawn(spec: EfficientNetSpec) -> None:
    if spec.variant.endswith("_pruned"):
        raise NoCanonicalEfficientNet(f"{spec.id}: no canonical form yet for timm's pruned channel table")


def stem_channels(spec: EfficientNetSpec) -> int:
    return STEM_CHANNELS if spec.lite else round_channels(STEM_CHANNELS * spec.width)


def head_channels(spec: EfficientNetSpec) -> int:
    return HEAD_CHANNELS if spec.lite else round_channels(HEAD_CHANNELS * spec.width)


def blocks(spec: EfficientNetSpec) -> Iterator[Block]:
    """Every block in order: each stage's repeats scaled by ``ceil(repeats * depth)`` (the Lite
    variants keep the first and last stage at one block), widths rounded to multiples of 8."""
    _require_drawn(spec)
    cin = stem_channels(spec)
    for stage, (kernel, repeats, stride, expansion, out) in enumerate(BLOCKS, start=1):
        fixed = spec.lite and stage in (1, len(BLOCKS))
        cout = round_channels(out * spec.width)
        for index in range(repeats if fixed else math.ceil(repeats * spec.depth)):
            squeeze = max(1, cin // 4) if spec.squeeze_excitation and not spec.lite else 0
            yield Block(stage, index, cin, cin * expansion, cout, kernel, stride if index == 0 else 1, squeeze)
            cin = cout


def skeleton(spec: EfficientNetSpec) -> Skeleton:
    return Skeleton(spec.id, stem_channels(spec), tuple(blocks(spec)), head_channels(spec), spec.bn_eps, spec.padding, relu6=spec.lite)


def skeleton_pads(net: Skeleton, input_size: int | None) -> dict[str, tuple[int, int, int, int]]:
    """(top, left, bottom, right) of every strided convolution (``stem.conv``, a block's
    ``main_conv`` of stride 2) at ``input_size`` pixels; every other convolution pads k // 2 on
    each side. Symmetric padding is k // 2 at every size; "same" padding needs ``input_size``
    (ValueError without)."""
    size, out = input_size, {}
    if net.padding == "same" and size is None:
        raise ValueError(f"{net.id}: TF 'same' padding depends on the input size, which is not known here")
    strided = [("stem.conv", 3)] + [(b.main_conv, b.kernel) for b in net.blocks if b.stride == 2]
    for layer, kernel in strided:
        if net.padding == "same":
            before, after = same_padding(size, kernel, 2)
            out[layer] = (before, before, after, after)
            size = math.ceil(size / 2)
        else:
            out[layer] = (kernel // 2,) * 4
    return out


def pads(spec: EfficientNetSpec, input_size: int | None) -> dict[str, tuple[int, int, int, int]]:
    return skeleton_pads(skeleton(spec), input_size)


def skeleton_parameter_shapes(net: Skeleton, num_classes: int) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``net`` and its shape, in network order."""
    shapes: dict[str, tuple[int, ...]] = {}

    def conv_bn(conv: str, norm: str, cin: int, cout: int, kernel: int, groups: int = 1) -> None:
        shapes[f"{conv}.weight"] = (cout, cin // groups, kernel, kernel)
        shapes.update({f"{norm}.{f}": (cout,) for f in BN_FIELDS})

    conv_bn("stem.conv", "stem.bn", 3, net.stem, 3)
    for b in net.blocks:
        p = b.prefix
        if b.fused:
            conv_bn(f"{p}.fused", f"{p}.fused_bn", b.cin, b.mid, b.kernel)
        else:
            if b.expands:
                conv_bn(f"{p}.expand", f"{p}.expand_bn", b.cin, b.mid, 1)
            conv_bn(f"{p}.dw", f"{p}.dw_bn", b.mid, b.mid, b.kernel, groups=b.mid)
        if b.squeeze:
            shapes.update(
                {
                    f"{p}.se.reduce.weight": (b.squeeze, b.mid, 1, 1),
                    f"{p}.se.reduce.bias": (b.squeeze,),
                    f"{p}.se.expand.weight": (b.mid, b.squeeze, 1, 1),
                    f"{p}.se.expand.bias": (b.mid,),
                }
            )
        if b.projects:
            conv_bn(f"{p}.project", f"{p}.project_bn", b.mid, b.cout, 1)
    conv_bn("head.conv", "head.bn", net.blocks[-1].cout, net.head, 1)
    shapes["fc.weight"] = (num_classes, net.head)
    shapes["fc.bias"] = (num_classes,)
    return shapes


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    return skeleton_parameter_shapes(skeleton(arch.structure), arch.num_classes)


def skeleton_layer_outputs(net: Skeleton) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    block's ``project`` (its batch norm folded in; no activation follows it, so torchvision's
    and timm's networks, whose batch norms differ in whether they include the activation, both
    compute it)."""
    return {f"{b.prefix}.project": f"{b.prefix}.project_bn" for b in net.blocks if b.projects}


def layer_outputs(arch: Architecture) -> dict[str, str]:
    return skeleton_layer_outputs(skeleton(arch.structure))


def sigmoid(y: np.ndarray) -> np.ndarray:
    """Without overflow for large negative ``y``, in ``y``'s dtype."""
    return (0.5 * (1 + np.tanh(0.5 * y))).astype(y.dtype, copy=False)


def skeleton_forward(
    net: Skeleton,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    measure: BatchNormHook | None = None,
    features: list | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``net``'s logits for NCHW ``x``, computed from canonical ``params`` in ``dtype`` ("same"
    padding at ``x``'s size); ``measure`` and ``features`` as the ResNet family's forward takes
    them (before each batch norm, channels last; the pooled features ``fc`` sees)."""
    p = params
    strided = skeleton_pads(net, x.shape[-1])

    def act(y: np.ndarray) -> np.ndarray:
        return np.clip(y, 0, 6) if net.relu6 else y * sigmoid(y)

    def conv_bn(conv: str, norm: str, y: np.ndarray, stride: int = 1, groups: int = 1) -> np.ndarray:
        return batch_norm(p, norm, conv2d(y, p[f"{conv}.weight"], stride, groups, pads=strided.get(conv)), net.bn_eps, dtype, measure)

    def pointwise(name: str, y: np.ndarray) -> np.ndarray:  # a 1x1 convolution with bias on [N, C]
        return y @ p[f"{name}.weight"][:, :, 0, 0].T.astype(dtype) + p[f"{name}.bias"].astype(dtype)

    y = act(conv_bn("stem.conv", "stem.bn", np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype), 2))
    for b in net.blocks:
        pre = b.prefix
        if b.fused:
            z = act(conv_bn(f"{pre}.fused", f"{pre}.fused_bn", y, b.stride))
        else:
            z = act(conv_bn(f"{pre}.expand", f"{pre}.expand_bn", y)) if b.expands else y
            z = act(conv_bn(f"{pre}.dw", f"{pre}.dw_bn", z, b.stride, b.mid))
        if b.squeeze:
            gate = sigmoid(pointwise(f"{pre}.se.expand", act(pointwise(f"{pre}.se.reduce", z.mean(axis=(1, 2))))))
            z = z * gate[:, None, None, :]
        if b.projects:
            z = conv_bn(f"{pre}.project", f"{pre}.project_bn", z)
        y = y + z if b.residual else z
    pooled = act(conv_bn("head.conv", "head.bn", y)).mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    return pooled @ p["fc.weight"].T.astype(dtype) + p["fc.bias"].astype(dtype)


def forward(arch: Architecture, params: dict[str, np.ndarray], x: np.ndarray, **kwargs) -> np.ndarray:
    """``arch``'s logits (``skeleton_forward``'s keywords)."""
    return skeleton_forward(skeleton(arch.structure), params, x, **kwargs)
