"""PaddleClas's MobileNetV2 in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

Every ppcls MobileNetV2 entry is built by ppcls/arch/backbone/model_zoo/mobilenet_v2.py: ``conv1``
(the stem), ``conv2`` .. ``conv8`` (the seven stages: the first block ``_first_block``, the others
``conv<s>_<i>``, i from 2; each ``_expand_conv``, ``_bottleneck_conv`` (depthwise),
``_linear_conv``), ``conv9`` (the head), ``out`` (the classifier); every unit ``._conv`` +
``._batch_norm``, ReLU6. Its differences from the paper's network are spec fields: channels
truncated (``int(c * scale)``) and an expansion conv in the first block too.
"""

from __future__ import annotations

from zoocheck.converters.paddle_layers import ConvBN, F, nn, paddle, require_fields, traced_as_is
from zoocheck.converters.paddle_random import RESIDUAL_BRANCH_END
from zoocheck.families.mobilenet_v2.spec import CHANNELS, MobileNetV2Spec, round_channels

SOURCE_FILE = "model_zoo/mobilenet_v2.py"
#: what that file builds at every width; the builder implements the other fields
PADDLECLAS = {"depth": 1.0, "fix_stem_head": False, "activation": "relu6", "expand_first": True, "classifier": "linear"}
#: per stage (expansion, repeats, stride of its first block), the paper's Table 2
STAGES = ((1, 1, 1), (6, 2, 2), (6, 3, 2), (6, 4, 2), (6, 3, 1), (6, 3, 2), (6, 1, 1))
_NAMES = ("_conv", "_batch_norm")


@traced_as_is
class InvertedResidual(nn.Layer):
    def __init__(self, cin: int, cout: int, expansion: int, stride: int, shortcut: bool, eps: float):
        super().__init__()
        mid = int(round(cin * expansion))
        self._expand_conv = ConvBN(cin, mid, 1, act="relu6", names=_NAMES, eps=eps)
        self._bottleneck_conv = ConvBN(mid, mid, 3, stride, groups=mid, act="relu6", names=_NAMES, eps=eps)
        self._linear_conv = ConvBN(mid, cout, 1, names=_NAMES, eps=eps)
        self._shortcut = shortcut
        if shortcut:
            setattr(self._linear_conv._batch_norm, RESIDUAL_BRANCH_END, True)

    def forward(self, x):
        y = self._linear_conv(self._bottleneck_conv(self._expand_conv(x)))
        return paddle.add(x, y) if self._shortcut else y


@traced_as_is
class Stage(nn.Layer):
    def __init__(self, stage: int, cin: int, cout: int, expansion: int, repeats: int, stride: int, eps: float):
        super().__init__()
        # the input is added back in every block but the stage's first
        self._first_block = InvertedResidual(cin, cout, expansion, stride, shortcut=False, eps=eps)
        for index in range(2, repeats + 1):
            self.add_sublayer(f"conv{stage}_{index}", InvertedResidual(cout, cout, expansion, 1, shortcut=True, eps=eps))

    def forward(self, x):
        for block in self.children():
            x = block(x)
        return x


@traced_as_is
class MobileNetV2(nn.Layer):
    def __init__(self, spec: MobileNetV2Spec, num_classes: int):
        super().__init__()
        eps = spec.bn_eps

        def channels(c: int) -> int:
            return int(c * spec.width) if spec.channel_rounding == "truncate" else round_channels(c * spec.width)

        self.conv1 = ConvBN(3, channels(CHANNELS[0]), 3, 2, act="relu6", names=_NAMES, eps=eps)
        stages, cin = [], channels(CHANNELS[0])
        for stage, (c, (expansion, repeats, stride)) in enumerate(zip(CHANNELS[1:], STAGES), start=2):
            stages.append(self.add_sublayer(f"conv{stage}", Stage(stage, cin, channels(c), expansion, repeats, stride, eps)))
            cin = channels(c)
        self._stages = stages
        head = max(1280, channels(1280))
        self.conv9 = ConvBN(cin, head, 1, act="relu6", names=_NAMES, eps=eps)
        self.out = nn.Linear(head, num_classes)

    def forward(self, x):
        x = self.conv1(x)
        for stage in self._stages:
            x = stage(x)
        return self.out(paddle.flatten(F.adaptive_avg_pool2d(self.conv9(x), 1), 1))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a MobileNetV2 that file does not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILE)
    return MobileNetV2(arch.structure, arch.num_classes)
