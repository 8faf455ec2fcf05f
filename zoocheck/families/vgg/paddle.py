"""PaddleClas's VGG in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

Every ppcls VGG entry is built by ppcls/arch/backbone/legendary_models/vgg.py: ``conv_block_<s>``
(s = 1..5: ``conv1`` .. ``conv<n>``, 3x3 convs without bias, each followed by ReLU, then a 2x2/2
max-pool), then ``fc1`` (on the flattened 7x7x512 map: the input is 224 pixels), ``fc2``, ``fc3``
with ReLU and ``Dropout(0.5, mode="downscale_in_infer")`` (x0.5 at evaluation) after the first two.
"""

from __future__ import annotations

from zoocheck.converters.paddle_layers import F, eval_dropout, nn, paddle, require_fields, traced_as_is
from zoocheck.families.vgg.spec import VGGSpec

SOURCE_FILE = "legendary_models/vgg.py"
#: what that file builds at every depth; the builder implements the other fields
PADDLECLAS = {"batch_norm": False, "conv_bias": False}
STAGE_CHANNELS = (64, 128, 256, 512, 512)
#: the last feature map's side at the 224-pixel input the classifier's first layer is sized for
FEATURE_SIDE = 7


@traced_as_is
class ConvBlock(nn.Layer):
    def __init__(self, cin: int, cout: int, convs: int):
        super().__init__()
        for index in range(1, convs + 1):
            self.add_sublayer(f"conv{index}", nn.Conv2D(cin if index == 1 else cout, cout, 3, padding=1, bias_attr=False))

    def forward(self, x):
        for conv in self.children():
            x = F.relu(conv(x))
        return F.max_pool2d(x, kernel_size=2, stride=2)


@traced_as_is
class VGG(nn.Layer):
    def __init__(self, spec: VGGSpec, num_classes: int):
        super().__init__()
        blocks, cin = [], 3
        for stage, (convs, cout) in enumerate(zip(spec.layers, STAGE_CHANNELS), start=1):
            blocks.append(self.add_sublayer(f"conv_block_{stage}", ConvBlock(cin, cout, convs)))
            cin = cout
        self._blocks = blocks
        self.fc1 = nn.Linear(FEATURE_SIDE * FEATURE_SIDE * cin, 4096)
        self.fc2 = nn.Linear(4096, 4096)
        self.fc3 = nn.Linear(4096, num_classes)
        self._dropout_scale = spec.eval_dropout_scale

    def forward(self, x):
        for block in self._blocks:
            x = block(x)
        x = eval_dropout(F.relu(self.fc1(paddle.flatten(x, 1))), self._dropout_scale)
        x = eval_dropout(F.relu(self.fc2(x)), self._dropout_scale)
        return self.fc3(x)


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a VGG that file does not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILE)
    return VGG(arch.structure, arch.num_classes)
