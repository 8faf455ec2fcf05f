"""GluonCV's MobileNetV2 (gluoncv/model_zoo/mobilenet.py), built in MXNet from a ``MobileNetV2Spec``.

MXNet's own model zoo (``mxnet.gluon.model_zoo.vision.mobilenet_v2_*``) is not the same network:
its first block has a 1x1 expansion conv (32 -> 32) that GluonCV's ``LinearBottleneck`` leaves out
where the expansion is 1, so the parameter names and the function differ from the second block on.
The network here is GluonCV's structure, so a GluonCV ``.params`` file loads into it strictly:
``features`` = stem conv, BN, ReLU6; one ``LinearBottleneck`` per block, its ``out`` a sequence of
[1x1 expansion conv, BN, ReLU6,] depthwise 3x3, BN, ReLU6, 1x1 projection, BN (the skip where the
block keeps width and resolution); the 1x1 conv to the head width, BN, ReLU6; global pool;
``output.0`` the 1x1-conv classifier without bias, then a flatten. Channels ``int(c * width)``
(``channel_rounding='truncate'``), the head 1280 up to width 1. A spec field GluonCV's code has no
form for is refused (``NoBuilder``) naming it. Imported only to build a network: MXNet is imported here.
"""

from __future__ import annotations

from mxnet.gluon import nn  # noqa: E402  (MXNet imported by mobilenet_v3.gluoncv)
from mxnet.gluon.block import HybridBlock  # noqa: E402

from zoocheck.converters.base import require_fields
from zoocheck.families.mobilenet_v2.spec import CHANNELS, MobileNetV2Spec
from zoocheck.families.mobilenet_v3.gluoncv import ReLU6
from zoocheck.families.mobilenet_v3.spec import round_channels
from zoocheck.zoo_registry.types import Architecture

#: expansion, repeats and first stride of the seven stages (the paper's table, GluonCV's lists)
STAGES = ((1, 1, 1), (6, 2, 2), (6, 3, 2), (6, 4, 2), (6, 3, 1), (6, 3, 2), (6, 1, 1))
HEAD_CHANNELS = 1280


def _conv_bn(out: nn.HybridSequential, channels: int, kernel: int, stride: int, groups: int, relu6: bool, bn_eps: float) -> None:
    """GluonCV's ``_add_conv``: conv without bias, BN, ReLU6 (``relu6``)."""
    out.add(nn.Conv2D(channels, kernel, stride, kernel // 2, groups=groups, use_bias=False))
    out.add(nn.BatchNorm(scale=True, epsilon=bn_eps))
    if relu6:
        out.add(ReLU6())


class LinearBottleneck(HybridBlock):
    def __init__(self, inputs: int, channels: int, expansion: int, stride: int, spec: MobileNetV2Spec, **kwargs):
        super().__init__(**kwargs)
        self.use_shortcut = stride == 1 and inputs == channels
        mid = inputs * expansion
        self.out = nn.HybridSequential()
        if expansion != 1 or spec.expand_first:
            _conv_bn(self.out, mid, 1, 1, 1, True, spec.bn_eps)
        _conv_bn(self.out, mid, 3, stride, mid, True, spec.bn_eps)
        _conv_bn(self.out, channels, 1, 1, 1, False, spec.bn_eps)

    def hybrid_forward(self, F, x):
        out = self.out(x)
        return F.elemwise_add(out, x) if self.use_shortcut else out


class MobileNetV2(HybridBlock):
    def __init__(self, spec: MobileNetV2Spec, classes: int, **kwargs):
        super().__init__(**kwargs)
        width = spec.width
        channels = [int(c * width) if spec.channel_rounding == "truncate" else round_channels(c * width) for c in CHANNELS]
        self.features = nn.HybridSequential(prefix="features_")
        _conv_bn(self.features, channels[0], 3, 2, 1, True, spec.bn_eps)
        inputs = channels[0]
        for (expansion, repeats, stride), out in zip(STAGES, channels[1:]):
            for index in range(repeats):
                self.features.add(LinearBottleneck(inputs, out, expansion, stride if index == 0 else 1, spec))
                inputs = out
        _conv_bn(self.features, int(HEAD_CHANNELS * width) if width > 1.0 else HEAD_CHANNELS, 1, 1, 1, True, spec.bn_eps)
        self.features.add(nn.GlobalAvgPool2D())
        self.output = nn.HybridSequential(prefix="output_")
        self.output.add(nn.Conv2D(classes, 1, use_bias=False), nn.Flatten())

    def hybrid_forward(self, F, x):
        return self.output(self.features(x))


#: the spec's fields GluonCV's code builds one way only (the others: ``width``, ``bn_eps``,
#: ``channel_rounding``, ``expand_first``)
GLUONCV_FIELDS = {"depth": 1.0, "fix_stem_head": False, "activation": "relu6", "classifier": "conv_nobias"}


def network(arch: Architecture):
    """GluonCV's MobileNetV2 of ``arch`` (uninitialised, GluonCV's parameter names)."""
    require_fields(arch.structure, GLUONCV_FIELDS, "GluonCV's MobileNetV2", "GluonCV")
    return MobileNetV2(arch.structure, arch.num_classes)
