"""mmpretrain's EfficientNet in torch, with mmpretrain's own parameter names, so that its
checkpoints (``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/efficientnet.py`` (configs ``_base_/models/efficientnet_*.py``):
``backbone.layers.0`` (the stem ConvModule), ``layers.1`` .. ``layers.N-2`` (the stages of
``InvertedResidual`` blocks, SE squeezed to a quarter of the block's input width with the Swish
and the sigmoid gate), ``layers.N-1`` (the head 1x1 ConvModule), the GlobalAveragePooling neck
and ``head.fc``; every conv mmcv's ``Conv2dAdaptivePadding`` (TF "same"), BN eps 1e-3, Swish.
Stage boundaries (hence the indices) are ``model_scaling``'s: blocks of a width change start a new
stage, the repeats are ``ceil(blocks * depth)``, a new stride-1 stage is merged into the one before.
"""

from __future__ import annotations

import math

from torch import nn

from zoocheck.converters._mmpretrain_modules import LinearClsHead
from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mmpretrain_layers import ConvModule, ImageClassifier, InvertedResidual, SELayer
from zoocheck.families.efficientnet.spec import EfficientNetSpec
from zoocheck.families.mobilenet_v3.spec import round_channels

#: mmpretrain's EfficientNet.layer_settings['b']: per stage, per block (kernel, channels, SE ratio
#: (0: none), stride, expansion); the first and last are the stem and the head conv
LAYER_SETTINGS = (
    ((3, 32, 0, 2, 0),),
    ((3, 16, 4, 1, 1),),
    ((3, 24, 4, 2, 6), (3, 24, 4, 1, 6)),
    ((5, 40, 4, 2, 6), (5, 40, 4, 1, 6)),
    ((3, 80, 4, 2, 6), (3, 80, 4, 1, 6), (3, 80, 4, 1, 6), (5, 112, 4, 1, 6), (5, 112, 4, 1, 6), (5, 112, 4, 1, 6)),
    ((5, 192, 4, 2, 6), (5, 192, 4, 1, 6), (5, 192, 4, 1, 6), (5, 192, 4, 1, 6), (3, 320, 4, 1, 6)),
    ((1, 1280, 0, 1, 0),),
)
#: the variants of mmpretrain's 'b' table (its 'es'/'em'/'el' EdgeTPU models are no EfficientNetSpec)
VARIANTS = ("b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "l2")
#: what mmpretrain's EfficientNet builds (Conv2dAdaptivePadding, SE in every block)
MMPRETRAIN = {"padding": "same", "squeeze_excitation": True}


def backbone_config(spec: EfficientNetSpec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, MMPRETRAIN, "mmpretrain's EfficientNet", "mmpretrain")
    if spec.variant not in VARIANTS:
        raise NoBuilder(f"{spec.id}: mmpretrain's EfficientNet has no {spec.variant} (its archs: {', '.join(VARIANTS)})")
    return {"type": "EfficientNet", "arch": spec.variant, "norm_cfg": {"type": "BN", "eps": spec.bn_eps}}


def scaled_stages(width: float, depth: float) -> list[list[tuple[int, int, int, int, int]]]:
    """mmpretrain's ``model_scaling`` of ``LAYER_SETTINGS``: the stages mmpretrain builds, stem and
    head conv included."""
    scaled = [[(k, round_channels(c * width), se, s, e) for k, c, se, s, e in stage] for stage in LAYER_SETTINGS]
    split = [scaled[0]]
    for stage in scaled[1:-1]:  # a width change inside a stage starts a new one
        starts = [0] + [i for i in range(1, len(stage)) if stage[i][1] != stage[i - 1][1]] + [len(stage)]
        split += [stage[a:b] for a, b in zip(starts, starts[1:])]
    merged = [split[0]]
    for i, stage in enumerate(split[1:]):
        repeats = math.ceil(depth * len(stage))
        blocks = stage[:repeats] + [stage[-1]] * (repeats - len(stage))
        if blocks[0][3] == 1 and i != 0:
            merged[-1] = merged[-1] + blocks
        else:
            merged.append(blocks)
    return merged + [scaled[-1]]


class EfficientNet(nn.Module):
    def __init__(self, spec: EfficientNetSpec):
        super().__init__()
        stages = scaled_stages(spec.width, spec.depth)
        conv = dict(eps=spec.bn_eps, same_padding=True)
        ((kernel, cin, _, stride, _),) = stages[0]
        self.layers = nn.ModuleList([ConvModule(3, cin, kernel, stride, act="Swish", **conv)])
        for stage in stages[1:-1]:
            blocks = []
            for kernel, cout, se_ratio, stride, expansion in stage:
                mid = int(cin * expansion)
                se = SELayer(mid, mid // (expansion * se_ratio), "Swish", "Sigmoid")
                blocks.append(InvertedResidual(cin, cout, mid, kernel, stride, se, "Swish", **conv))
                cin = cout
            self.layers.append(nn.Sequential(*blocks))
        ((kernel, self.feat_dim, _, stride, _),) = stages[-1]
        self.layers.append(ConvModule(cin, self.feat_dim, kernel, stride, act="Swish", **conv))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    backbone_config(arch.structure)
    backbone = EfficientNet(arch.structure)
    return ImageClassifier(backbone, LinearClsHead(backbone.feat_dim, arch.num_classes)).eval()
