"""torch modules with mmpretrain 1.2.0's structure and parameter names (see converters/mmpretrain.py).

Kept apart from the converter so that importing the converter imports no torch.
"""

from __future__ import annotations

import torch
from torch import nn

from zoocheck.families.resnet.spec import ResNetSpec


class ConvModule(nn.Module):
    """mmcv ConvModule(conv, BN, ReLU): parameters ``conv.weight``, ``bn.*``."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, mid: int, stride: int, groups: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """style='pytorch': stride on the 3x3 ``conv2``; ``groups`` > 1 for ResNeXt."""

    def __init__(self, cin: int, cout: int, mid: int, stride: int, groups: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _downsample(cin: int, cout: int, stride: int, avg_down: bool) -> nn.Sequential:
    """mmpretrain ResLayer's shortcut: [AvgPool (avg_down and stride != 1)], 1x1 conv, BN."""
    layers: list[nn.Module] = []
    conv_stride = stride
    if avg_down and stride != 1:
        conv_stride = 1
        layers.append(nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True, count_include_pad=False))
    layers += [nn.Conv2d(cin, cout, 1, stride=conv_stride, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers)


class ResNet(nn.Module):
    """mmpretrain ResNet / ResNetV1c / ResNetV1d / ResNeXt backbone, out_indices=(3,), for ``spec``
    (mmpretrain's own channel arithmetic gives the spec's widths: mid = out / expansion, for
    ResNeXt groups * width_per_group * (out / 4) / 64)."""

    def __init__(self, spec: ResNetSpec):
        super().__init__()
        self.deep_stem = spec.stem != "7x7"
        stem_channels = spec.stem_channels
        if self.deep_stem:
            half = stem_channels // 2
            self.stem = nn.Sequential(ConvModule(3, half, 2), ConvModule(half, half, 1), ConvModule(half, stem_channels, 1))
        else:
            self.conv1 = nn.Conv2d(3, stem_channels, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(stem_channels)
            self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        block = BasicBlock if spec.block == "basic" else Bottleneck
        avg_down = spec.shortcut == "avgpool_conv"
        cin = stem_channels
        self.res_layers = []
        for i, blocks in enumerate(spec.layers):
            cout, mid, stride = spec.out_channels(i), spec.mid_channels(i), spec.stride(i, 0)
            downsample = _downsample(cin, cout, stride, avg_down) if spec.projects(i, 0) else None
            layer = [block(cin, cout, mid, stride, spec.groups, downsample)]
            layer += [block(cout, cout, mid, 1, spec.groups, None) for _ in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
            self.res_layers.append(f"layer{i + 1}")
            cin = cout
        self.feat_dim = cin

    def forward(self, x):
        x = self.stem(x) if self.deep_stem else self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return x


class GlobalAveragePooling(nn.Module):
    def __init__(self):
        super().__init__()
        self.gap = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.gap(x).flatten(1)


class LinearClsHead(nn.Module):
    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        return self.fc(x)


class ImageClassifier(nn.Module):
    """backbone -> neck -> head, as ``ImageClassifier.forward(x, mode='tensor')``: raw logits."""

    def __init__(self, backbone: ResNet, feat_dim: int, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.neck = GlobalAveragePooling()
        self.head = LinearClsHead(feat_dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(x)))
