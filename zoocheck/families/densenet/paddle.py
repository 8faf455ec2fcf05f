"""PaddleClas's DenseNet in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

Every ppcls DenseNet entry is built by ppcls/arch/backbone/model_zoo/densenet.py (the paper's
network): ``conv1_func`` (the 7x7/2 stem: conv, BN, ReLU), ``db_conv_<b>.conv<b>_<l>`` (dense layer
``l`` of block ``b``, b = 2..5: ``bn_ac_func1`` BN-ReLU-conv1x1, ``bn_ac_func2`` BN-ReLU-conv3x3),
``tr_conv<b>_blk.conv_ac_func`` (the transitions: BN-ReLU-conv1x1, then avg-pool 2x2/2),
``batch_norm`` (the final BN, ReLU), ``out`` (the classifier); every unit ``._conv`` + ``._batch_norm``.
"""

from __future__ import annotations

from zoocheck.converters.paddle_layers import ConvBN, F, nn, paddle, require_fields, traced_as_is
from zoocheck.families.densenet.spec import DenseNetSpec

SOURCE_FILE = "model_zoo/densenet.py"
#: what that file builds at every depth; the builder implements the other fields
PADDLECLAS = {"stem": "7x7", "blur_pool": False}
_NAMES = ("_conv", "_batch_norm")


def _pre_activation(cin: int, cout: int, kernel: int, eps: float) -> ConvBN:
    return ConvBN(cin, cout, kernel, act="relu", names=_NAMES, eps=eps, bn_first=True)


@traced_as_is
class DenseLayer(nn.Layer):
    def __init__(self, cin: int, spec: DenseNetSpec):
        super().__init__()
        width = spec.bn_size * spec.growth_rate
        self.bn_ac_func1 = _pre_activation(cin, width, 1, spec.bn_eps)
        self.bn_ac_func2 = _pre_activation(width, spec.growth_rate, 3, spec.bn_eps)

    def forward(self, x):
        return paddle.concat([x, self.bn_ac_func2(self.bn_ac_func1(x))], axis=1)


@traced_as_is
class DenseBlock(nn.Layer):
    """Dense layers named ``conv<block>_<layer>``, run in order."""

    def __init__(self, block: int, layers: int, cin: int, spec: DenseNetSpec):
        super().__init__()
        for index in range(layers):
            self.add_sublayer(f"conv{block}_{index + 1}", DenseLayer(cin + index * spec.growth_rate, spec))

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x


@traced_as_is
class Transition(nn.Layer):
    def __init__(self, cin: int, cout: int, eps: float):
        super().__init__()
        self.conv_ac_func = _pre_activation(cin, cout, 1, eps)

    def forward(self, x):
        return F.avg_pool2d(self.conv_ac_func(x), kernel_size=2, stride=2)


@traced_as_is
class DenseNet(nn.Layer):
    def __init__(self, spec: DenseNetSpec, num_classes: int):
        super().__init__()
        self.conv1_func = ConvBN(3, spec.init_features, 7, 2, act="relu", names=_NAMES, eps=spec.bn_eps)
        stages, channels = [], spec.init_features
        for block, layers in enumerate(spec.blocks, start=2):
            stages.append(self.add_sublayer(f"db_conv_{block}", DenseBlock(block, layers, channels, spec)))
            channels += layers * spec.growth_rate
            if block - 1 < len(spec.blocks):
                stages.append(self.add_sublayer(f"tr_conv{block}_blk", Transition(channels, channels // 2, spec.bn_eps)))
                channels //= 2
        self._stages = stages
        self.batch_norm = nn.BatchNorm2D(channels, epsilon=spec.bn_eps)
        self.out = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.max_pool2d(self.conv1_func(x), kernel_size=3, stride=2, padding=1)
        for stage in self._stages:
            x = stage(x)
        x = F.adaptive_avg_pool2d(F.relu(self.batch_norm(x)), 1)
        return self.out(paddle.flatten(x, 1))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a DenseNet that file does not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILE)
    return DenseNet(arch.structure, arch.num_classes)
