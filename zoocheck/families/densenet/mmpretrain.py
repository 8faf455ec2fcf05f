"""mmpretrain's DenseNet in torch, with mmpretrain's own parameter names, so that its checkpoints
(``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/densenet.py`` (configs ``_base_/models/densenet/*``):
``backbone.stem`` (7x7/2 conv, BN, ReLU, 3x3/2 max-pool: indices 0-3), ``stages.<i>.block.<j>``
(dense layers: ``norm1``, ``conv1`` 1x1, ``norm2``, ``conv2`` 3x3, pre-activation, their outputs
concatenated to their inputs), ``transitions.<i>`` (BN, ReLU, 1x1 conv halving the width, 2x2/2
average pool; after the last stage only ``transitions.3.0``, a BN, and ReLU), the
GlobalAveragePooling neck and ``head.fc``. Its ``arch`` may be a dict (growth rate, depths, stem
width), so every DenseNetSpec with the 7x7 stem is one mmpretrain builds.
"""

from __future__ import annotations

import torch
from torch import nn

from zoocheck.converters._mmpretrain_modules import LinearClsHead
from zoocheck.converters.base import require_fields
from zoocheck.converters.mmpretrain_layers import ImageClassifier
from zoocheck.families.densenet.spec import DenseNetSpec

#: what mmpretrain's DenseNet builds for every arch
MMPRETRAIN = {"stem": "7x7", "blur_pool": False}


def backbone_config(spec: DenseNetSpec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, MMPRETRAIN, "mmpretrain's DenseNet", "mmpretrain")
    return {
        "type": "DenseNet",
        "arch": {"growth_rate": spec.growth_rate, "depths": list(spec.blocks), "init_channels": spec.init_features},
        "bn_size": spec.bn_size,
        "norm_cfg": {"type": "BN", "eps": spec.bn_eps},
    }


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int, eps: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.act = nn.ReLU()
        self.norm2 = nn.BatchNorm2d(bn_size * growth, eps=eps)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(self.act(self.norm2(self.conv1(self.act(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers: int, cin: int, growth: int, bn_size: int, eps: float):
        super().__init__()
        self.block = nn.ModuleList([DenseLayer(cin + i * growth, growth, bn_size, eps) for i in range(layers)])

    def forward(self, x):
        for layer in self.block:
            x = torch.cat([x, layer(x)], 1)
        return x


class DenseNet(nn.Module):
    def __init__(self, spec: DenseNetSpec):
        super().__init__()
        eps, channels = spec.bn_eps, spec.init_features
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(channels, eps=eps),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.stages, self.transitions = nn.ModuleList(), nn.ModuleList()
        for i, layers in enumerate(spec.blocks):
            self.stages.append(DenseBlock(layers, channels, spec.growth_rate, spec.bn_size, eps))
            channels += layers * spec.growth_rate
            if i < len(spec.blocks) - 1:
                transition = nn.Sequential()
                transition.add_module("norm", nn.BatchNorm2d(channels, eps=eps))
                transition.add_module("act", nn.ReLU())
                transition.add_module("conv", nn.Conv2d(channels, channels // 2, 1, bias=False))
                transition.add_module("pool", nn.AvgPool2d(2, stride=2))
                channels //= 2
            else:
                transition = nn.Sequential(nn.BatchNorm2d(channels, eps=eps), nn.ReLU())
            self.transitions.append(transition)
        self.feat_dim = channels

    def forward(self, x):
        x = self.stem(x)
        for stage, transition in zip(self.stages, self.transitions):
            x = transition(stage(x))
        return x


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    backbone_config(arch.structure)
    backbone = DenseNet(arch.structure)
    return ImageClassifier(backbone, LinearClsHead(backbone.feat_dim, arch.num_classes)).eval()
