"""mmpretrain's VGG in torch, with mmpretrain's own parameter names, so that its checkpoints
(``{"meta", "state_dict"}``) load by name.

mmpretrain 1.2.0 ``models/backbones/vgg.py`` (configs ``_base_/models/vgg*.py``): ``backbone.features``
(per stage its ConvModules, 3x3 with bias even before a batch norm, then a 2x2/2 max-pool, indexed
in one Sequential) and ``backbone.classifier`` (Linear 25088 -> 4096, ReLU, dropout, 4096 -> 4096,
ReLU, dropout, -> classes: indices 0, 3, 6); no neck and a head without parameters. The classifier
flattens the last feature map as it is, so mmpretrain's VGG takes 224-pixel inputs only (7x7 at the
end), as zoocheck's does.
"""

from __future__ import annotations

from torch import nn

from zoocheck.converters.base import NoBuilder, require_fields
from zoocheck.converters.mmpretrain_layers import ConvModule, ImageClassifier
from zoocheck.families.vgg.spec import STANDARD_LAYERS, VGGSpec

#: what mmpretrain's VGG builds for every depth
MMPRETRAIN = {"conv_bias": True, "eval_dropout_scale": 1.0}


def backbone_config(spec: VGGSpec) -> dict:
    """The mmpretrain backbone config ``spec`` is; NoBuilder for one mmpretrain does not build."""
    require_fields(spec, MMPRETRAIN, "mmpretrain's VGG", "mmpretrain")
    if STANDARD_LAYERS.get(spec.depth) != spec.layers:
        raise NoBuilder(f"{spec.id}: mmpretrain's VGG has depths {', '.join(map(str, STANDARD_LAYERS))} with their standard stages only")
    return {"type": "VGG", "depth": spec.depth, "norm_cfg": {"type": "BN", "eps": 1e-5} if spec.batch_norm else None}


class VGG(nn.Module):
    def __init__(self, spec: VGGSpec, num_classes: int):
        super().__init__()
        layers, cin = [], 3
        for stage, convs in enumerate(spec.layers):
            cout = min(64 * 2**stage, 512)
            for _ in range(convs):
                layers.append(ConvModule(cin, cout, 3, norm=spec.batch_norm, bias=True))
                cin = cout
            layers.append(nn.MaxPool2d(2, stride=2))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    backbone_config(arch.structure)
    return ImageClassifier(VGG(arch.structure, arch.num_classes), nn.Identity(), neck=nn.Identity()).eval()
