"""mmpretrain's MobileNetV2 in torch, with mmpretrain's own parameter names, so that its
checkpoints (``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/mobilenet_v2.py`` (config ``_base_/models/mobilenet_v2_1x.py``):
``backbone.conv1`` (the stem ConvModule), ``backbone.layer1`` .. ``layer7`` (the stages, each block
an ``InvertedResidual`` whose ``conv`` Sequential holds [expansion 1x1,] depthwise 3x3 and linear
1x1 ConvModules), ``backbone.conv2`` (the head conv, 1280 x max(1, width)), the
GlobalAveragePooling neck and ``head.fc``; ReLU6, BN eps 1e-5, ``make_divisible(c * width, 8)``
channels.
"""

from __future__ import annotations

from torch import nn

from zoocheck.converters._mmpretrain_modules import LinearClsHead
from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mmpretrain_layers import ConvModule, ImageClassifier
from zoocheck.families.mobilenet_v2.spec import MobileNetV2Spec, round_channels

#: mmpretrain's MobileNetV2.arch_settings: per stage (expansion, channels at width 1, blocks, stride)
ARCH_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
#: what mmpretrain's MobileNetV2 builds at every widen_factor
MMPRETRAIN = {"depth": 1.0, "fix_stem_head": False, "activation": "relu6", "bn_eps": 1e-5, "channel_rounding": "divisible8",
              "expand_first": False, "classifier": "linear"}  # fmt: skip


def backbone_config(spec: MobileNetV2Spec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, MMPRETRAIN, "mmpretrain's MobileNetV2", "mmpretrain")
    # mmpretrain's head: int(1280 * widen_factor) above width 1, where the spec says round_channels
    if spec.width > 1 and int(1280 * spec.width) != round_channels(1280 * spec.width):
        raise NoBuilder(f"{spec.id}: mmpretrain's MobileNetV2 head has int(1280 * width) channels, not {round_channels(1280 * spec.width)}")
    return {"type": "MobileNetV2", "widen_factor": spec.width}


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        self.skip = stride == 1 and cin == cout
        mid = int(round(cin * expansion))
        layers = [ConvModule(cin, mid, 1, act="ReLU6")] if expansion != 1 else []
        layers += [ConvModule(mid, mid, 3, stride, groups=mid, act="ReLU6"), ConvModule(mid, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.skip else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, spec: MobileNetV2Spec):
        super().__init__()
        cin = round_channels(32 * spec.width)
        self.conv1 = ConvModule(3, cin, 3, 2, act="ReLU6")
        self.stages = []
        for i, (expansion, channels, blocks, stride) in enumerate(ARCH_SETTINGS, start=1):
            cout = round_channels(channels * spec.width)
            layer = [InvertedResidual(cin if b == 0 else cout, cout, stride if b == 0 else 1, expansion) for b in range(blocks)]
            self.add_module(f"layer{i}", nn.Sequential(*layer))
            self.stages.append(f"layer{i}")
            cin = cout
        self.feat_dim = int(1280 * spec.width) if spec.width > 1 else 1280
        self.conv2 = ConvModule(cin, self.feat_dim, 1, act="ReLU6")

    def forward(self, x):
        x = self.conv1(x)
        for name in self.stages:
            x = getattr(self, name)(x)
        return self.conv2(x)


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    backbone_config(arch.structure)
    backbone = MobileNetV2(arch.structure)
    return ImageClassifier(backbone, LinearClsHead(backbone.feat_dim, arch.num_classes)).eval()
