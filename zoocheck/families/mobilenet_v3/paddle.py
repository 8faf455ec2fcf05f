"""PaddleClas's MobileNetV3 in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

Every ppcls MobileNetV3 entry is built by ppcls/arch/backbone/legendary_models/mobilenet_v3.py:
``conv`` (the stem, hardswish), ``blocks.<i>`` (``expand_conv``, ``bottleneck_conv``, the SE
``mid_se.conv1``/``conv2`` with bias, ``linear_conv``; each conv unit ``.conv`` + ``.bn``),
``last_second_conv``, the head ``last_conv`` (1x1, no bias, hardswish), ``fc``. Its differences
from the paper's network are spec fields (see ``spec.py``): the SE squeezed to ``channels // 4``
and gated by ``hardsigmoid(slope=0.2, offset=0.5)``, an expansion conv in every block, the head's
``Dropout(0.2, mode="downscale_in_infer")`` (x0.8 at evaluation).
"""

from __future__ import annotations

from zoocheck.converters.base import NoBuilder
from zoocheck.converters.paddle_layers import ACTIVATIONS, ConvBN, F, eval_dropout, nn, paddle, require_fields, traced_as_is
from zoocheck.converters.paddle_random import RESIDUAL_BRANCH_END
from zoocheck.families.mobilenet_v3.spec import BLOCKS, MobileNetV3Spec, round_channels

SOURCE_FILE = "legendary_models/mobilenet_v3.py"
#: what that file builds at every size and width; the builder implements the other fields
PADDLECLAS = {"depth": 1.0, "head": "conv", "padding": "symmetric", "head_bias": False,
              "classifier": "linear", "se_rounding": "floor", "expand_always": True}  # fmt: skip


@traced_as_is
class SqueezeExcitation(nn.Layer):
    def __init__(self, channels: int, gate_slope: float):
        super().__init__()
        self.conv1 = nn.Conv2D(channels, channels // 4, 1)
        self.conv2 = nn.Conv2D(channels // 4, channels, 1)
        self._gate_slope = gate_slope

    def forward(self, x):
        scale = self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(x, 1))))
        return paddle.multiply(x, F.hardsigmoid(scale, slope=self._gate_slope, offset=0.5))


@traced_as_is
class ResidualUnit(nn.Layer):
    def __init__(self, cin: int, mid: int, cout: int, kernel: int, stride: int, se: bool, act: str, spec: MobileNetV3Spec):
        super().__init__()
        self.expand_conv = ConvBN(cin, mid, 1, act=act, eps=spec.bn_eps)
        self.bottleneck_conv = ConvBN(mid, mid, kernel, stride, groups=mid, act=act, eps=spec.bn_eps)
        self._se = se
        if se:
            self.mid_se = SqueezeExcitation(mid, spec.se_gate_slope)
        self.linear_conv = ConvBN(mid, cout, 1, eps=spec.bn_eps)
        self._shortcut = stride == 1 and cin == cout
        if self._shortcut:
            setattr(self.linear_conv.bn, RESIDUAL_BRANCH_END, True)

    def forward(self, x):
        y = self.bottleneck_conv(self.expand_conv(x))
        if self._se:
            y = self.mid_se(y)
        y = self.linear_conv(y)
        return paddle.add(x, y) if self._shortcut else y


@traced_as_is
class MobileNetV3(nn.Layer):
    def __init__(self, spec: MobileNetV3Spec, num_classes: int):
        super().__init__()
        blocks = BLOCKS[spec.variant]
        self.conv = ConvBN(3, spec.stem_channels, 3, 2, act="hardswish", eps=spec.bn_eps)
        units, cin = [], spec.stem_channels
        for kernel, expanded, out, se, act, stride in blocks:
            cout = round_channels(out * spec.width)
            units.append(ResidualUnit(cin, round_channels(expanded * spec.width), cout, kernel, stride, se, act, spec))
            cin = cout
        self.blocks = nn.Sequential(*units)
        last = round_channels(blocks[-1][1] * spec.width)
        self.last_second_conv = ConvBN(cin, last, 1, act="hardswish", eps=spec.bn_eps)
        self.last_conv = nn.Conv2D(last, spec.head_channels, 1, bias_attr=False)
        self.fc = nn.Linear(spec.head_channels, num_classes)
        self._dropout_scale = spec.eval_dropout_scale

    def forward(self, x):
        x = self.last_second_conv(self.blocks(self.conv(x)))
        x = ACTIVATIONS["hardswish"](self.last_conv(F.adaptive_avg_pool2d(x, 1)))
        return self.fc(paddle.flatten(eval_dropout(x, self._dropout_scale), 1))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a MobileNetV3 that file does not build."""
    spec = arch.structure
    if spec.variant not in ("large", "small"):
        raise NoBuilder(f"{arch.id}: PaddleClas's {SOURCE_FILE} builds the 'large' and 'small' tables only, not {spec.variant!r}")
    require_fields(spec, PADDLECLAS, SOURCE_FILE)
    return MobileNetV3(spec, arch.num_classes)
