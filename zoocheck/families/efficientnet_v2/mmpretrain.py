"""mmpretrain's EfficientNetV2 in torch, with mmpretrain's own parameter names, so that its
checkpoints (``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/efficientnet_v2.py`` (configs
``_base_/models/efficientnet_v2/*``): ``backbone.layers.0`` (the stem ConvModule, 3x3/2),
``layers.1`` .. ``layers.N-2`` (one per row of the arch's table: ``EnhancedConvModule`` 3x3 convs
with the skip where the width is unchanged, ``EdgeResidual`` (fused MBConv) or ``InvertedResidual``
blocks with SE squeezed to a quarter of the block's input width, Swish and a sigmoid gate),
``layers.N-1`` (the head 1x1 ConvModule), the GlobalAveragePooling neck and ``head.fc``. The stem
and every strided conv are mmcv's ``Conv2dAdaptivePadding`` (TF "same"), BN eps 1e-3, Swish.
"""

from __future__ import annotations

from torch import nn

from zoocheck.converters._mmpretrain_modules import LinearClsHead
from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mmpretrain_layers import ConvModule, EdgeResidual, ImageClassifier, InvertedResidual, SELayer
from zoocheck.families.efficientnet_v2.spec import EfficientNetV2Spec

# mmpretrain's EfficientNetV2.arch_settings: per stage (repeats, kernel, stride, expansion, input
# channels, output channels, SE ratio, block type: -2 the head ConvModule, -1 EnhancedConvModule,
# 0 fused MBConv, 1 MBConv)
ARCH_SETTINGS = {
    "s": ((2, 3, 1, 1, 24, 24, 0.0, -1), (4, 3, 2, 4, 24, 48, 0.0, 0), (4, 3, 2, 4, 48, 64, 0.0, 0),
          (6, 3, 2, 4, 64, 128, 0.25, 1), (9, 3, 1, 6, 128, 160, 0.25, 1), (15, 3, 2, 6, 160, 256, 0.25, 1),
          (1, 1, 1, 1, 256, 1280, 0.0, -2)),
    "m": ((3, 3, 1, 1, 24, 24, 0.0, -1), (5, 3, 2, 4, 24, 48, 0.0, 0), (5, 3, 2, 4, 48, 80, 0.0, 0),
          (7, 3, 2, 4, 80, 160, 0.25, 1), (14, 3, 1, 6, 160, 176, 0.25, 1), (18, 3, 2, 6, 176, 304, 0.25, 1),
          (5, 3, 1, 6, 304, 512, 0.25, 1), (1, 1, 1, 1, 512, 1280, 0.0, -2)),
    "l": ((4, 3, 1, 1, 32, 32, 0.0, -1), (7, 3, 2, 4, 32, 64, 0.0, 0), (7, 3, 2, 4, 64, 96, 0.0, 0),
          (10, 3, 2, 4, 96, 192, 0.25, 1), (19, 3, 1, 6, 192, 224, 0.25, 1), (25, 3, 2, 6, 224, 384, 0.25, 1),
          (7, 3, 1, 6, 384, 640, 0.25, 1), (1, 1, 1, 1, 640, 1280, 0.0, -2)),
    "xl": ((4, 3, 1, 1, 32, 32, 0.0, -1), (8, 3, 2, 4, 32, 64, 0.0, 0), (8, 3, 2, 4, 64, 96, 0.0, 0),
           (16, 3, 2, 4, 96, 192, 0.25, 1), (24, 3, 1, 6, 192, 256, 0.25, 1), (32, 3, 2, 6, 256, 512, 0.25, 1),
           (8, 3, 1, 6, 512, 640, 0.25, 1), (1, 1, 1, 1, 640, 1280, 0.0, -2)),
    "b0": ((1, 3, 1, 1, 32, 16, 0.0, -1), (2, 3, 2, 4, 16, 32, 0.0, 0), (2, 3, 2, 4, 32, 48, 0.0, 0),
           (3, 3, 2, 4, 48, 96, 0.25, 1), (5, 3, 1, 6, 96, 112, 0.25, 1), (8, 3, 2, 6, 112, 192, 0.25, 1),
           (1, 1, 1, 1, 192, 1280, 0.0, -2)),
    "b1": ((2, 3, 1, 1, 32, 16, 0.0, -1), (3, 3, 2, 4, 16, 32, 0.0, 0), (3, 3, 2, 4, 32, 48, 0.0, 0),
           (4, 3, 2, 4, 48, 96, 0.25, 1), (6, 3, 1, 6, 96, 112, 0.25, 1), (9, 3, 2, 6, 112, 192, 0.25, 1),
           (1, 1, 1, 1, 192, 1280, 0.0, -2)),
    "b2": ((2, 3, 1, 1, 32, 16, 0.0, -1), (3, 3, 2, 4, 16, 32, 0.0, 0), (3, 3, 2, 4, 32, 56, 0.0, 0),
           (4, 3, 2, 4, 56, 104, 0.25, 1), (6, 3, 1, 6, 104, 120, 0.25, 1), (10, 3, 2, 6, 120, 208, 0.25, 1),
           (1, 1, 1, 1, 208, 1408, 0.0, -2)),
    "b3": ((2, 3, 1, 1, 40, 16, 0.0, -1), (3, 3, 2, 4, 16, 40, 0.0, 0), (3, 3, 2, 4, 40, 56, 0.0, 0),
           (5, 3, 2, 4, 56, 112, 0.25, 1), (7, 3, 1, 6, 112, 136, 0.25, 1), (12, 3, 2, 6, 136, 232, 0.25, 1),
           (1, 1, 1, 1, 232, 1536, 0.0, -2)),
}  # fmt: skip
#: what mmpretrain's EfficientNetV2 builds for every arch
MMPRETRAIN = {"attention": "se", "padding": "same"}


def backbone_config(spec: EfficientNetV2Spec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, MMPRETRAIN, "mmpretrain's EfficientNetV2", "mmpretrain")
    if spec.variant not in ARCH_SETTINGS:
        raise NoBuilder(f"{spec.id}: mmpretrain's EfficientNetV2 has no {spec.variant} (its archs: {', '.join(ARCH_SETTINGS)})")
    return {"type": "EfficientNetV2", "arch": spec.variant, "norm_cfg": {"type": "BN", "eps": spec.bn_eps}}


class EfficientNetV2(nn.Module):
    def __init__(self, spec: EfficientNetV2Spec):
        super().__init__()
        table, eps = ARCH_SETTINGS[spec.variant], spec.bn_eps
        cin = table[0][4]
        self.layers = nn.ModuleList([ConvModule(3, cin, 3, 2, act="Swish", eps=eps, same_padding=True)])
        for repeats, kernel, first_stride, expansion, _, cout, se_ratio, block_type in table[:-1]:
            blocks = []
            for i in range(repeats):
                stride = first_stride if i == 0 else 1
                mid = int(cin * expansion)
                if block_type == -1:
                    blocks.append(EnhancedConvModule(cin, cout, kernel, stride, eps=eps))
                elif block_type == 0:
                    blocks.append(EdgeResidual(cin, cout, mid, kernel, stride, "Swish", eps=eps, same_padding=True))
                else:
                    se = SELayer(mid, int(mid // (expansion / se_ratio)), "Swish", "Sigmoid")
                    blocks.append(InvertedResidual(cin, cout, mid, kernel, stride, se, "Swish", eps=eps, same_padding=True))
                cin = cout
            self.layers.append(nn.Sequential(*blocks))
        self.feat_dim = table[-1][5]
        self.layers.append(ConvModule(cin, self.feat_dim, table[-1][1], act="Swish", eps=eps))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class EnhancedConvModule(ConvModule):
    """A ConvModule with the skip where the width is unchanged and the stride 1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, *, eps: float):
        super().__init__(cin, cout, kernel, stride, act="Swish", eps=eps)
        self.skip = stride == 1 and cin == cout

    def forward(self, x):
        return super().forward(x) + x if self.skip else super().forward(x)


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    backbone_config(arch.structure)
    backbone = EfficientNetV2(arch.structure)
    return ImageClassifier(backbone, LinearClsHead(backbone.feat_dim, arch.num_classes)).eval()
