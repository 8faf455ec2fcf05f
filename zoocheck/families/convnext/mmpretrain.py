"""mmpretrain's ConvNeXt (and ConvNeXt-V2) in torch, with mmpretrain's own parameter names, so
that its checkpoints (``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/convnext.py`` (configs ``_base_/models/convnext/*`` and
``convnext_v2/*``): ``backbone.downsample_layers.0`` (4x4/4 conv, LN2d), ``downsample_layers.{s}``
(LN2d, 2x2/2 conv), ``backbone.stages.{s}.{i}`` (``ConvNeXtBlock`` with ``linear_pw_conv``: the
depthwise conv, then channels last ``norm``, ``pointwise_conv1`` (Linear), GELU, V2's ``grn``
(``gamma``, ``beta``), ``pointwise_conv2``, back to NCHW, V1's ``gamma`` [C]), ``backbone.norm3``
on the pooled features (``gap_before_final_norm``) and ``head.fc`` (LinearClsHead, no neck). LN2d
eps 1e-6.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from zoocheck.converters._mmpretrain_modules import LinearClsHead
from zoocheck.converters.base import require_fields
from zoocheck.converters.mmpretrain_layers import ImageClassifier
from zoocheck.families.convnext.canonical import DOWNSAMPLE, DW_KERNEL, STEM_PATCH
from zoocheck.families.convnext.spec import (
    DEFAULT_NORM_EPS,
    GRN_EPS,
    MLP_RATIO,
    ConvNeXtSpec,
)


class LayerNorm2d(nn.LayerNorm):
    """mmpretrain's LN2d: a LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        if channels_last:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


class GRN(nn.Module):
    """mmpretrain's GRN, channels last."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        nx = gx / (gx.mean(dim=-1, keepdim=True) + GRN_EPS)
        return self.gamma * (x * nx) + self.beta + x


class ConvNeXtBlock(nn.Module):
    def __init__(self, channels: int, grn: bool, layer_scale: bool):
        super().__init__()
        self.depthwise_conv = nn.Conv2d(channels, channels, DW_KERNEL, padding=DW_KERNEL // 2, groups=channels)
        self.norm = LayerNorm2d(channels, eps=DEFAULT_NORM_EPS)
        self.pointwise_conv1 = nn.Linear(channels, MLP_RATIO * channels)
        self.act = nn.GELU()
        self.grn = GRN(MLP_RATIO * channels) if grn else None
        self.pointwise_conv2 = nn.Linear(MLP_RATIO * channels, channels)
        self.gamma = nn.Parameter(torch.ones(channels)) if layer_scale else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.pointwise_conv1(self.norm(self.depthwise_conv(x).permute(0, 2, 3, 1), channels_last=True)))
        if self.grn is not None:
            y = self.grn(y)
        y = self.pointwise_conv2(y).permute(0, 3, 1, 2)
        if self.gamma is not None:
            y = y.mul(self.gamma.view(1, -1, 1, 1))
        return x + y


class ConvNeXt(nn.Module):
    def __init__(self, spec: ConvNeXtSpec):
        super().__init__()
        dims = spec.dims
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], STEM_PATCH, STEM_PATCH), LayerNorm2d(dims[0], eps=DEFAULT_NORM_EPS))]
        )
        self.downsample_layers.extend(
            nn.Sequential(LayerNorm2d(dims[s - 1], eps=DEFAULT_NORM_EPS), nn.Conv2d(dims[s - 1], dims[s], DOWNSAMPLE, DOWNSAMPLE))
            for s in range(1, len(dims))
        )
        self.stages = nn.ModuleList(
            nn.Sequential(*(ConvNeXtBlock(c, spec.grn, spec.layer_scale) for _ in range(depth))) for depth, c in zip(spec.depths, dims)
        )
        self.norm3 = LayerNorm2d(dims[-1], eps=DEFAULT_NORM_EPS)
        self.feat_dim = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for downsample, stage in zip(self.downsample_layers, self.stages):
            x = stage(downsample(x))
        return self.norm3(x.mean([-2, -1], keepdim=True)).flatten(1)


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder naming a field mmpretrain
    builds one way only."""
    spec: ConvNeXtSpec = arch.structure
    fixed = {"stem": "patch", "norm": "layernorm", "norm_eps": DEFAULT_NORM_EPS, "head_norm_first": False, "head_hidden": 0}
    require_fields(spec, fixed, "mmpretrain's ConvNeXt", "mmpretrain")
    backbone = ConvNeXt(spec)
    return ImageClassifier(backbone, LinearClsHead(backbone.feat_dim, arch.num_classes), neck=nn.Identity()).eval()
