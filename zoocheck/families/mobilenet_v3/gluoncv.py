"""GluonCV's MobileNetV3 (gluoncv/model_zoo/mobilenetv3.py), built in MXNet from a ``MobileNetV3Spec``.

The network is GluonCV's structure, so its parameters have GluonCV's structural names and a GluonCV
``.params`` file loads into it strictly: ``features`` = stem conv (``features.0``), BN, hardswish,
one ``_ResUnit`` per block (``expand``, ``conv1`` depthwise, ``se`` (``conv1``, ``conv2`` with bias),
``conv2`` linear; each unit a ``conv`` + ``bn``), the 1x1 conv to 960/576 + BN + hardswish, global
pool, the head's 1x1 conv to ``head_channels`` without bias + hardswish, dropout; ``output.0`` the
1x1-conv classifier with bias, then a flatten. Activations are GluonCV's own formulas:
``relu6(x) = clip(x, 0, 6)``, ``hard_sigmoid(x) = relu6(x + 3) / 6``, ``hard_swish(x) = x *
hard_sigmoid(x)`` (the op pattern mxnet.onnx exports). A spec field GluonCV's code has no form for
is refused (``NoBuilder``) naming it. Imported only to build a network: MXNet is imported here.
"""

from __future__ import annotations

from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mxnet_compat import import_mxnet
from zoocheck.families.mobilenet_v3.spec import BLOCKS, MobileNetV3Spec, round_channels
from zoocheck.zoo_registry.types import Architecture

import_mxnet()

from mxnet.gluon import nn  # noqa: E402
from mxnet.gluon.block import HybridBlock  # noqa: E402

FINAL_DROPOUT = 0.2  # get_mobilenet_v3's final_drop: an identity at evaluation


class ReLU6(HybridBlock):
    def hybrid_forward(self, F, x):
        return F.clip(x, 0, 6)


class HardSigmoid(HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.act = ReLU6()

    def hybrid_forward(self, F, x):
        return self.act(x + 3.0) / 6.0


class HardSwish(HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.act = HardSigmoid()

    def hybrid_forward(self, F, x):
        return x * self.act(x)


class Activation(HybridBlock):
    """GluonCV's ``Activation`` wrapper (its child ``act`` has no parameters; the wrapper keeps the
    network's block tree GluonCV's)."""

    def __init__(self, kind: str, **kwargs):
        super().__init__(**kwargs)
        self.act = {"relu": lambda: nn.Activation("relu"), "hardsigmoid": HardSigmoid, "hardswish": HardSwish}[kind]()

    def hybrid_forward(self, F, x):
        return self.act(x)


class SqueezeExcite(HybridBlock):
    def __init__(self, channels: int, squeeze: int, **kwargs):
        super().__init__(**kwargs)
        self.pool = nn.GlobalAvgPool2D()
        self.conv1 = nn.Conv2D(squeeze, kernel_size=1, use_bias=True)
        self.act1 = Activation("relu")
        self.conv2 = nn.Conv2D(channels, kernel_size=1, use_bias=True)
        self.act2 = Activation("hardsigmoid")

    def hybrid_forward(self, F, x):
        return F.broadcast_mul(x, self.act2(self.conv2(self.act1(self.conv1(self.pool(x))))))


class ConvUnit(HybridBlock):
    """conv (no bias), BN, optional activation: GluonCV's ``_Unit``."""

    def __init__(self, channels: int, kernel: int, stride: int, groups: int, act: str | None, bn_eps: float, **kwargs):
        super().__init__(**kwargs)
        self.conv = nn.Conv2D(channels, kernel_size=kernel, strides=stride, padding=kernel // 2, groups=groups, use_bias=False)
        self.bn = nn.BatchNorm(epsilon=bn_eps)
        self.use_act = act is not None
        if act is not None:
            self.act = Activation(act)

    def hybrid_forward(self, F, x):
        out = self.bn(self.conv(x))
        return self.act(out) if self.use_act else out


class ResUnit(HybridBlock):
    """GluonCV's ``_ResUnit``: an expansion conv where the expanded width differs from the output
    width (GluonCV's condition; for both tables it is where it differs from the input width, the
    spec's ``expand_always=False``), the depthwise conv, SE, the linear projection, and the skip
    where the block keeps width and resolution."""

    def __init__(self, inputs: int, mid: int, out: int, kernel: int, act: str, se: bool, stride: int, bn_eps: float, **kwargs):
        super().__init__(**kwargs)
        self.use_se = se
        self.first_conv = out != mid
        self.use_short_cut_conv = inputs == out and stride == 1
        if self.first_conv:
            self.expand = ConvUnit(mid, 1, 1, 1, act, bn_eps)
        self.conv1 = ConvUnit(mid, kernel, stride, mid, act, bn_eps)
        if se:
            self.se = SqueezeExcite(mid, round_channels(mid // 4))
        self.conv2 = ConvUnit(out, 1, 1, 1, None, bn_eps)

    def hybrid_forward(self, F, x):
        out = self.expand(x) if self.first_conv else x
        out = self.conv1(out)
        if self.use_se:
            out = self.se(out)
        out = self.conv2(out)
        return x + out if self.use_short_cut_conv else out


class MobileNetV3(HybridBlock):
    def __init__(self, spec: MobileNetV3Spec, classes: int, **kwargs):
        super().__init__(**kwargs)
        eps = spec.bn_eps
        self.features = nn.HybridSequential(prefix="")
        self.features.add(nn.Conv2D(spec.stem_channels, kernel_size=3, padding=1, strides=2, use_bias=False))
        self.features.add(nn.BatchNorm(epsilon=eps))
        self.features.add(HardSwish())
        inputs = spec.stem_channels
        for kernel, mid, out, se, act, stride in BLOCKS[spec.variant]:
            self.features.add(ResUnit(inputs, mid, out, kernel, act, se, stride, eps))
            inputs = out
        self.features.add(nn.Conv2D(BLOCKS[spec.variant][-1][1], kernel_size=1, use_bias=False))
        self.features.add(nn.BatchNorm(epsilon=eps))
        self.features.add(HardSwish())
        self.features.add(nn.GlobalAvgPool2D())
        self.features.add(nn.Conv2D(spec.head_channels, kernel_size=1, use_bias=spec.head_bias))
        self.features.add(HardSwish())
        self.features.add(nn.Dropout(FINAL_DROPOUT))
        self.output = nn.HybridSequential(prefix="output_")
        self.output.add(nn.Conv2D(classes, kernel_size=1, use_bias=True), nn.Flatten())

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


#: the spec's fields GluonCV's code builds one way only (the others: ``bn_eps``, ``head_channels``,
#: ``head_bias``); width 1.0 only, where GluonCV's ceil-to-8 channels are the spec's rounding
GLUONCV_FIELDS = {"width": 1.0, "depth": 1.0, "stem_channels": 16, "head": "conv", "padding": "symmetric", "classifier": "conv",
                  "se_gate_slope": 1 / 6, "se_rounding": "divisible8", "expand_always": False, "eval_dropout_scale": 1.0}  # fmt: skip


def network(arch: Architecture):
    """GluonCV's MobileNetV3 of ``arch`` (uninitialised, GluonCV's parameter names)."""
    spec = arch.structure
    if spec.variant not in BLOCKS:
        raise NoBuilder(
            f"{arch.id}: GluonCV's MobileNetV3 builds no such network: variant {spec.variant!r} (it builds {' and '.join(BLOCKS)})"
        )
    require_fields(spec, GLUONCV_FIELDS, "GluonCV's MobileNetV3", "GluonCV")
    return MobileNetV3(spec, arch.num_classes)
