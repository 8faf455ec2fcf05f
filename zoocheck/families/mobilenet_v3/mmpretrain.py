"""mmpretrain's MobileNetV3 in torch, with mmpretrain's own parameter names, so that its
checkpoints (``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/mobilenet_v3.py`` (configs ``_base_/models/mobilenet_v3/*``):
``backbone.layer0`` (the stem ConvModule, 16 channels at every width, hardswish), ``layer1`` ..
``layerN`` (``InvertedResidual`` blocks from the arch's table, SE squeezed to
``make_divisible(mid // 4, 8)`` with ReLU and the hard-sigmoid gate), the last 1x1 ConvModule
(hardswish), the GlobalAveragePooling neck and a ``StackedLinearClsHead``: ``head.layers.0.fc``
(to 1280 / 1024, hardswish, dropout) and ``head.layers.1.fc``. The batch norms' epsilon is the
config's (1e-3 by default, 1e-5 in the small-050/075 configs).
"""

from __future__ import annotations

from torch import nn

from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mmpretrain_layers import ACTIVATIONS, ConvModule, ImageClassifier, InvertedResidual, SELayer
from zoocheck.families.mobilenet_v3.spec import HEAD_CHANNELS, MobileNetV3Spec, round_channels

#: mmpretrain's MobileNetV3.arch_settings: per block (kernel, mid channels, out channels, SE,
#: activation, stride)
ARCH_SETTINGS = {
    "small": ((3, 16, 16, True, "ReLU", 2), (3, 72, 24, False, "ReLU", 2), (3, 88, 24, False, "ReLU", 1),
              (5, 96, 40, True, "HSwish", 2), (5, 240, 40, True, "HSwish", 1), (5, 240, 40, True, "HSwish", 1),
              (5, 120, 48, True, "HSwish", 1), (5, 144, 48, True, "HSwish", 1), (5, 288, 96, True, "HSwish", 2),
              (5, 576, 96, True, "HSwish", 1), (5, 576, 96, True, "HSwish", 1)),
    "small_075": ((3, 16, 16, True, "ReLU", 2), (3, 72, 24, False, "ReLU", 2), (3, 88, 24, False, "ReLU", 1),
                  (5, 96, 32, True, "HSwish", 2), (5, 192, 32, True, "HSwish", 1), (5, 192, 32, True, "HSwish", 1),
                  (5, 96, 40, True, "HSwish", 1), (5, 120, 40, True, "HSwish", 1), (5, 240, 72, True, "HSwish", 2),
                  (5, 432, 72, True, "HSwish", 1), (5, 432, 72, True, "HSwish", 1)),
    "small_050": ((3, 16, 8, True, "ReLU", 2), (3, 40, 16, False, "ReLU", 2), (3, 56, 16, False, "ReLU", 1),
                  (5, 64, 24, True, "HSwish", 2), (5, 144, 24, True, "HSwish", 1), (5, 144, 24, True, "HSwish", 1),
                  (5, 72, 24, True, "HSwish", 1), (5, 72, 24, True, "HSwish", 1), (5, 144, 48, True, "HSwish", 2),
                  (5, 288, 48, True, "HSwish", 1), (5, 288, 48, True, "HSwish", 1)),
    "large": ((3, 16, 16, False, "ReLU", 1), (3, 64, 24, False, "ReLU", 2), (3, 72, 24, False, "ReLU", 1),
              (5, 72, 40, True, "ReLU", 2), (5, 120, 40, True, "ReLU", 1), (5, 120, 40, True, "ReLU", 1),
              (3, 240, 80, False, "HSwish", 2), (3, 200, 80, False, "HSwish", 1), (3, 184, 80, False, "HSwish", 1),
              (3, 184, 80, False, "HSwish", 1), (3, 480, 112, True, "HSwish", 1), (3, 672, 112, True, "HSwish", 1),
              (5, 672, 160, True, "HSwish", 2), (5, 960, 160, True, "HSwish", 1), (5, 960, 160, True, "HSwish", 1)),
}  # fmt: skip
#: (variant, width) -> mmpretrain's arch name
ARCHS = {("small", 1.0): "small", ("small", 0.75): "small_075", ("small", 0.5): "small_050", ("large", 1.0): "large"}
#: what mmpretrain's MobileNetV3 + StackedLinearClsHead build for every arch
MMPRETRAIN = {"depth": 1.0, "stem_channels": 16, "head": "linear", "padding": "symmetric", "head_bias": True,
              "classifier": "linear", "se_gate_slope": 1 / 6, "se_rounding": "divisible8", "expand_always": False,
              "eval_dropout_scale": 1.0}  # fmt: skip


def backbone_config(spec: MobileNetV3Spec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, {**MMPRETRAIN, "head_channels": HEAD_CHANNELS[spec.size]}, "mmpretrain's MobileNetV3", "mmpretrain")
    if (spec.variant, spec.width) not in ARCHS:
        raise NoBuilder(
            f"{spec.id}: mmpretrain's MobileNetV3 has no {spec.variant} network of width {spec.width} (its archs: {', '.join(ARCHS.values())})"
        )
    return {"type": "MobileNetV3", "arch": ARCHS[spec.variant, spec.width], "norm_cfg": {"type": "BN", "eps": spec.bn_eps}}


class MobileNetV3(nn.Module):
    def __init__(self, spec: MobileNetV3Spec):
        super().__init__()
        eps = spec.bn_eps
        cin = spec.stem_channels
        self.layer0 = ConvModule(3, cin, 3, 2, act="HSwish", eps=eps)
        table = ARCH_SETTINGS[ARCHS[spec.variant, spec.width]]
        for i, (kernel, mid, cout, with_se, act, stride) in enumerate(table, start=1):
            se = SELayer(mid, round_channels(mid // 4), "ReLU", "HSigmoid") if with_se else None
            self.add_module(f"layer{i}", InvertedResidual(cin, cout, mid, kernel, stride, se, act, eps=eps))
            cin = cout
        self.feat_dim = table[-1][1]
        self.add_module(f"layer{len(table) + 1}", ConvModule(cin, self.feat_dim, 1, act="HSwish", eps=eps))

    def forward(self, x):
        for layer in self.children():
            x = layer(x)
        return x


class LinearBlock(nn.Module):
    def __init__(self, cin: int, cout: int, act: str | None):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.act = ACTIVATIONS[act]() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.fc(x))  # the dropout after the hidden layer does nothing at evaluation


class StackedLinearClsHead(nn.Module):
    def __init__(self, cin: int, mid: int, num_classes: int):
        super().__init__()
        self.layers = nn.ModuleList([LinearBlock(cin, mid, "HSwish"), LinearBlock(mid, num_classes, None)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    spec = arch.structure
    backbone_config(spec)
    backbone = MobileNetV3(spec)
    return ImageClassifier(backbone, StackedLinearClsHead(backbone.feat_dim, spec.head_channels, arch.num_classes)).eval()
