"""PaddleClas's EfficientNet in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

Every ppcls EfficientNet entry is built by ppcls/arch/backbone/model_zoo/efficientnet.py: the
stem ``_ef._conv_stem._conv``, the MBConv blocks ``_ef._blocks.<n>.`` (the first of each stage) or
``_ef.block.<n>.`` (the others; the trailing dot is PaddleClas's) with ``_ecn`` (1x1 expansion,
absent at expansion 1), ``_dcn`` (depthwise), ``_se._conv1``/``_conv2`` (squeeze to a quarter of
the block's input channels, SiLU, sigmoid), ``_pcn`` (1x1 projection), the head ``_conv`` and the
classifier ``_fc``; a conv unit is ``_conv._conv`` (the conv) + ``_bn``, SiLU after every unit but
the projection. BN eps 1e-3.

PaddleClas's ``padding_type="SAME"`` pads the strided convs as TF does at the sizes of a table
of the model's own input size (and, where TF pads one more row below than above, pads
``top + stride`` on both sides and crops the first row and column: the same numbers); this builder
computes TF's padding from the size of the tensor the conv sees, which is that table at the
entry's input size. ``EfficientNetB0_small`` pads symmetrically (``"DYNAMIC"``) and has no SE.
"""

from __future__ import annotations

import math

from zoocheck.converters.base import NoBuilder
from zoocheck.converters.paddle_layers import ACTIVATIONS, F, nn, paddle, traced_as_is
from zoocheck.converters.paddle_random import RESIDUAL_BRANCH_END
from zoocheck.families.efficientnet.spec import BLOCKS, HEAD_CHANNELS, STEM_CHANNELS, EfficientNetSpec, same_padding
from zoocheck.families.mobilenet_v3.spec import round_channels

SOURCE_FILE = "model_zoo/efficientnet.py"
#: the compound scalings that file builds (``efficientnet_params``)
VARIANTS = ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7")


@traced_as_is
class Conv(nn.Layer):
    """PaddleClas's ``Conv2ds``: the conv (``_conv``), padded as the network's padding says."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *, groups: int = 1, bias: bool = False, same: bool = False):
        super().__init__()
        # a stride-1 conv of odd kernel pads (k - 1) / 2 on every side in both paddings
        self._same = same and stride > 1
        self._kernel, self._stride = kernel, stride
        self._conv = nn.Conv2D(
            cin,
            cout,
            kernel,
            stride=stride,
            padding=0 if self._same else (kernel - 1) // 2,
            groups=groups,
            bias_attr=None if bias else False,
        )

    def forward(self, x):
        if not self._same:
            return self._conv(x)
        # the conv's own asymmetric padding (an ONNX Conv's pads): paddle2onnx 2.1 exports a
        # separate F.pad of a depthwise conv's input with a garbage pad value
        (top, bottom), (left, right) = (same_padding(size, self._kernel, self._stride) for size in x.shape[2:])
        conv = self._conv
        return F.conv2d(x, conv.weight, conv.bias, stride=self._stride, padding=[top, bottom, left, right], groups=conv._groups)


@traced_as_is
class ConvBN(nn.Layer):
    """PaddleClas's ``ConvBNLayer``: ``_conv`` (a ``Conv``) then ``_bn``."""

    def __init__(
        self, cin: int, cout: int, kernel: int, stride: int = 1, *, groups: int = 1, spec: EfficientNetSpec, act: str | None = "swish"
    ):
        super().__init__()
        self._conv = Conv(cin, cout, kernel, stride, groups=groups, same=spec.padding == "same")
        self._bn = nn.BatchNorm2D(cout, epsilon=spec.bn_eps)
        self._act = ACTIVATIONS[act]

    def forward(self, x):
        return self._act(self._bn(self._conv(x)))


@traced_as_is
class Unit(nn.Layer):
    """The holder PaddleClas puts around each ``ConvBNLayer`` of a block (``_ecn``, ``_dcn``, ``_pcn``)."""

    def __init__(self, conv_bn: ConvBN):
        super().__init__()
        self._conv = conv_bn

    def forward(self, x):
        return self._conv(x)


@traced_as_is
class SqueezeExcitation(nn.Layer):
    def __init__(self, channels: int, squeezed: int):
        super().__init__()
        self._conv1 = Conv(channels, squeezed, 1, bias=True)
        self._conv2 = Conv(squeezed, channels, 1, bias=True)

    def forward(self, x):
        scale = self._conv2(F.swish(self._conv1(F.adaptive_avg_pool2d(x, 1))))
        return paddle.multiply(x, F.sigmoid(scale))


@traced_as_is
class MBConv(nn.Layer):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int, spec: EfficientNetSpec):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._ecn = Unit(ConvBN(cin, mid, 1, spec=spec))
        self._dcn = Unit(ConvBN(mid, mid, kernel, stride, groups=mid, spec=spec))
        if spec.squeeze_excitation:
            self._se = SqueezeExcitation(mid, max(1, int(cin * 0.25)))
        self._pcn = Unit(ConvBN(mid, cout, 1, spec=spec, act=None))
        self._steps = [step for step in (getattr(self, "_ecn", None), self._dcn, getattr(self, "_se", None), self._pcn) if step is not None]
        self._skip = stride == 1 and cin == cout
        if self._skip:
            setattr(self._pcn._conv._bn, RESIDUAL_BRANCH_END, True)

    def forward(self, x):
        y = x
        for step in self._steps:
            y = step(y)
        return paddle.add(y, x) if self._skip else y


@traced_as_is
class Features(nn.Layer):
    """PaddleClas's ``ExtractFeatures`` (``_ef``): the stem and the blocks."""

    def __init__(self, spec: EfficientNetSpec):
        super().__init__()
        width, depth = spec.width, spec.depth
        self._conv_stem = Unit(ConvBN(3, round_channels(STEM_CHANNELS * width), 3, 2, spec=spec))
        blocks, cin = [], round_channels(STEM_CHANNELS * width)
        for kernel, repeats, stride, expansion, out in BLOCKS:
            cout = round_channels(out * width)
            for index in range(math.ceil(repeats * depth)):
                name = f"_blocks.{len(blocks)}." if index == 0 else f"block.{len(blocks)}."
                blocks.append(self.add_sublayer(name, MBConv(cin, cout, kernel, stride if index == 0 else 1, expansion, spec)))
                cin = cout
        self._blocks_in_order = blocks
        self.channels = cin

    def forward(self, x):
        x = self._conv_stem(x)
        for block in self._blocks_in_order:
            x = block(x)
        return x


@traced_as_is
class EfficientNet(nn.Layer):
    def __init__(self, spec: EfficientNetSpec, num_classes: int):
        super().__init__()
        self._ef = Features(spec)
        head = round_channels(HEAD_CHANNELS * spec.width)
        self._conv = ConvBN(self._ef.channels, head, 1, spec=spec)
        self._fc = nn.Linear(head, num_classes)

    def forward(self, x):
        return self._fc(paddle.flatten(F.adaptive_avg_pool2d(self._conv(self._ef(x)), 1), 1))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for an EfficientNet that file does not build."""
    spec = arch.structure
    if spec.variant not in VARIANTS:
        raise NoBuilder(f"{arch.id}: PaddleClas's {SOURCE_FILE} builds EfficientNet B0-B7 only, not {spec.variant!r}")
    return EfficientNet(spec, arch.num_classes)
