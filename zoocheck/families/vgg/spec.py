"""The VGG family's structure (Simonyan & Zisserman 2014), as pure data.

A ``VGGSpec`` says which function a VGG computes; two entries share its ``id`` only when they compute
the same function from the same weights. The skeleton: five stages of 3x3 convs (64, 128, 256, 512,
512 channels; bias, optionally BN, ReLU) each ending in a 2x2/2 max-pool, then the classifier: 4096
ReLU (dropout), 4096 ReLU (dropout), 1000.

torchvision average-pools the 7x7 feature map to 7x7 (a no-op at 224) and flattens into Linear
layers; timm's ``vgg*.tv_in1k`` runs the first classifier layer as a 7x7 conv and the second as a 1x1
conv, then global-average-pools. At the 224-pixel input of every VGG entry both compute the same
numbers from the same weights (timm loads torchvision's file by reshaping), so they share an id.

Fields, with who sets what:

- ``layers``: convs per stage: VGG-11 (A) 1-1-2-2-2, VGG-13 (B) 2-2-2-2-2, VGG-16 (D) 2-2-3-3-3,
  VGG-19 (E) 2-2-4-4-4.
- ``batch_norm``: the ``_bn`` models (BN between each conv and its ReLU).
- ``conv_bias``: the convs' bias (every zoo but PaddleClas, whose convs have none).
- ``eval_dropout_scale``: what each of the two classifier dropouts multiplies by at evaluation: 1.0
  everywhere but PaddleClas (``Dropout(0.5, mode="downscale_in_infer")``: 0.5).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass

#: depth -> convs per stage
STANDARD_LAYERS: dict[int, tuple[int, ...]] = {
    11: (1, 1, 2, 2, 2),
    13: (2, 2, 2, 2, 2),
    16: (2, 2, 3, 3, 3),
    19: (2, 2, 4, 4, 4),
}


@dataclass(frozen=True)
class VGGSpec:
    """The structure of one VGG (see the module docstring for every field)."""

    layers: tuple[int, ...]
    batch_norm: bool = False
    conv_bias: bool = True
    eval_dropout_scale: float = 1.0

    family = "vgg"

    def __post_init__(self) -> None:
        if len(self.layers) != 5 or min(self.layers) < 1:
            raise ValueError(f"a VGG has five stages of at least one conv, not {self.layers}")
        object.__setattr__(self, "layers", tuple(self.layers))

    @property
    def depth(self) -> int:
        """Weighted layers: the convs and the three classifier layers."""
        return sum(self.layers) + 3

    @property
    def id(self) -> str:
        """``vgg16``, ``vgg16_bn``; a non-standard conv table is spelled out, and so are PaddleClas's
        differences (``vgg16_convnobias_evaldropout0.5``)."""
        out = f"vgg{self.depth}"
        if STANDARD_LAYERS.get(self.depth) != self.layers:
            out += "_l" + "-".join(map(str, self.layers))
        out += "_bn" if self.batch_norm else ""
        if not self.conv_bias:
            out += "_convnobias"
        if self.eval_dropout_scale != 1.0:
            out += f"_evaldropout{self.eval_dropout_scale:g}"
        return out
