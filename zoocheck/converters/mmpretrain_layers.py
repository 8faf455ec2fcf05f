"""The torch pieces mmpretrain 1.2.0's networks beyond ResNet are built from
(``zoocheck/families/<family>/mmpretrain.py``), with mmcv's and mmpretrain's structure and
parameter names, so that mmpretrain checkpoints load by name, strictly.

- ``ConvModule``: mmcv's conv -> ``bn`` -> activation, the conv without bias where a batch norm
  follows (mmcv's ``bias='auto'``) unless told; ``same_padding`` is mmcv's
  ``Conv2dAdaptivePadding`` (TF "same": the odd pixel padded after, computed from the input's size).
  A stride-1 conv with an odd kernel pads (k - 1) / 2 on every side either way, so only strided
  convs pad adaptively.
- ``SELayer``: mmpretrain's ``models/utils/se_layer.py`` (global average pool, two 1x1 ConvModules
  with bias and no batch norm, the second's activation the gate).
- ``InvertedResidual`` (``models/utils/inverted_residual.py``: expand_conv where the width changes,
  depthwise_conv, se, linear_conv) and ``EdgeResidual`` (``backbones/efficientnet.py``: conv1, se,
  conv2), each with the skip where stride is 1 and the width unchanged.
- ``ImageClassifier``: backbone -> neck -> head, as ``ImageClassifier.forward(x, mode='tensor')``.

Imported only when such a network is built, so it imports torch at module level.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from zoocheck.converters._mmpretrain_modules import GlobalAveragePooling


class Swish(nn.Module):
    """mmcv's Swish, ``x * sigmoid(x)`` as it computes it (nn.SiLU's kernel rounds otherwise, and a
    deep EfficientNet with random weights amplifies the difference)."""

    def forward(self, x):
        return x * torch.sigmoid(x)


#: mmcv's activation layers by their config names (mmcv registers nn.Hardswish as 'HSwish')
ACTIVATIONS = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "HSwish": nn.Hardswish,
    "Swish": Swish,
    "Sigmoid": nn.Sigmoid,
    "HSigmoid": nn.Hardsigmoid,
}


class SamePaddingConv2d(nn.Conv2d):
    """mmcv's ``Conv2dAdaptivePadding``: pads so that the output is ceil(input / stride), the
    larger half after (right, bottom)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(reversed(x.shape[-2:]), reversed(self.weight.shape[-2:]), reversed(self.stride)):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvModule(nn.Module):
    """mmcv's ConvModule (conv, norm, act order): ``conv``, ``bn`` (``norm`` False: none), then the
    activation named by ``act`` (None: none)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int,
        stride: int = 1,
        *,
        groups: int = 1,
        act: str | None = "ReLU",
        norm: bool = True,
        eps: float = 1e-5,
        bias: bool | None = None,
        same_padding: bool = False,
    ):
        super().__init__()
        bias = not norm if bias is None else bias
        if same_padding and stride > 1:
            self.conv = SamePaddingConv2d(cin, cout, kernel, stride, groups=groups, bias=bias)
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(cout, eps=eps) if norm else nn.Identity()
        self.activate = ACTIVATIONS[act]() if act else nn.Identity()

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


class SELayer(nn.Module):
    def __init__(self, channels: int, squeeze: int, act: str, gate: str):
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(channels, squeeze, 1, act=act, norm=False)
        self.conv2 = ConvModule(squeeze, channels, 1, act=gate, norm=False)

    def forward(self, x):
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class InvertedResidual(nn.Module):
    """``se``: an SELayer on the depthwise output, or None."""

    def __init__(
        self,
        cin: int,
        cout: int,
        mid: int,
        kernel: int,
        stride: int,
        se: SELayer | None,
        act: str,
        *,
        eps: float,
        same_padding: bool = False,
    ):
        super().__init__()
        self.skip = stride == 1 and cin == cout
        conv = dict(eps=eps, same_padding=same_padding)
        if mid != cin:
            self.expand_conv = ConvModule(cin, mid, 1, act=act, **conv)
        self.depthwise_conv = ConvModule(mid, mid, kernel, stride, groups=mid, act=act, **conv)
        if se is not None:
            self.se = se
        self.linear_conv = ConvModule(mid, cout, 1, act=None, **conv)

    def forward(self, x):
        out = self.expand_conv(x) if hasattr(self, "expand_conv") else x
        out = self.depthwise_conv(out)
        out = self.se(out) if hasattr(self, "se") else out
        out = self.linear_conv(out)
        return x + out if self.skip else out


class EdgeResidual(nn.Module):
    """EfficientNetV2's FusedMBConv: a full ``kernel`` conv to ``mid``, then a 1x1 conv to ``cout``."""

    def __init__(self, cin: int, cout: int, mid: int, kernel: int, stride: int, act: str, *, eps: float, same_padding: bool = False):
        super().__init__()
        self.skip = stride == 1 and cin == cout
        self.conv1 = ConvModule(cin, mid, kernel, stride, act=act, eps=eps, same_padding=same_padding)
        self.conv2 = ConvModule(mid, cout, 1, act=None, eps=eps)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return x + out if self.skip else out


class ImageClassifier(nn.Module):
    """``neck`` defaults to mmpretrain's GlobalAveragePooling; VGG's configs have none (nor a head
    with parameters: its backbone ends in the classifier)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, neck: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.neck = GlobalAveragePooling() if neck is None else neck
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(x)))
