"""The DenseNet family's structure (Huang et al. 2017), as pure data.

A ``DenseNetSpec`` says which function a DenseNet computes; two entries share its ``id`` only when
they compute the same function from the same weights (torchvision ``densenet121`` and timm
``densenet121.tv_in1k`` are one function: timm's DenseNet is torchvision's, and the tv weights load
unchanged). The skeleton: a stem (conv 7x7/2, BN, ReLU, max-pool 3x3/2), four dense blocks of
BN-ReLU-conv1x1 (``bn_size`` x growth) BN-ReLU-conv3x3 (growth) layers whose outputs are
concatenated to their inputs, transitions (BN, ReLU, 1x1 conv halving the channels, avg-pool 2x2/2)
between the blocks, a final BN-ReLU, global average pooling and a Linear classifier.

Fields, with who sets what:

- ``growth_rate``: channels each dense layer adds (32; 48 for DenseNet-161 and -264).
- ``blocks``: dense layers per block (121: 6-12-24-16, 169: 6-12-32-32, 201: 6-12-48-32,
  161: 6-12-36-24).
- ``init_features``: the stem's width (2 x growth_rate in every zoo: 64, 96 for DenseNet-161).
- ``bn_size``: the bottleneck 1x1's width as a multiple of growth_rate (4 everywhere).
- ``stem``: '7x7' or 'deep' (timm's ``d`` models: three 3x3 convs of growth, growth and
  init_features channels, the first strided).
- ``blur_pool``: timm ``densenetblur121d``: the stem's max-pool runs at stride 1 and a blur filter
  does the striding (anti-aliased downsampling, timm's ``aa_layer=BlurPool2d``, in the stem only).
- ``bn_eps``: 1e-5 in every zoo so far.

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: depth -> (growth_rate, blocks) of the paper's and torchvision's DenseNets
STANDARD: dict[int, tuple[int, tuple[int, ...]]] = {
    121: (32, (6, 12, 24, 16)),
    161: (48, (6, 12, 36, 24)),
    169: (32, (6, 12, 32, 32)),
    201: (32, (6, 12, 48, 32)),
    264: (32, (6, 12, 64, 48)),
}
DEFAULT_BN_EPS = 1e-5


@dataclass(frozen=True)
class DenseNetSpec:
    """The structure of one DenseNet (see the module docstring for every field)."""

    growth_rate: int
    blocks: tuple[int, ...]
    init_features: int = 0  # 0: 2 x growth_rate
    bn_size: int = 4
    stem: Literal["7x7", "deep"] = "7x7"
    blur_pool: bool = False
    bn_eps: float = DEFAULT_BN_EPS

    family = "densenet"

    def __post_init__(self) -> None:
        if len(self.blocks) != 4 or min(self.blocks) < 1:
            raise ValueError(f"a DenseNet has four dense blocks of at least one layer, not {self.blocks}")
        object.__setattr__(self, "blocks", tuple(self.blocks))
        if not self.init_features:
            object.__setattr__(self, "init_features", 2 * self.growth_rate)

    @property
    def depth(self) -> int:
        """The depth the zoos name a standard block table by (DenseNet-264 has 265 weighted layers),
        else the weighted layers: the stem conv, two per dense layer, the three transitions, the
        classifier."""
        named = [depth for depth, (_, blocks) in STANDARD.items() if blocks == self.blocks]
        return named[0] if named else 2 * sum(self.blocks) + 5

    @property
    def id(self) -> str:
        """``densenet121``, ``densenet161``, ``densenet121_deepstem_blurpool`` (timm
        ``densenetblur121d``); a growth, block table, stem width or bottleneck other than the
        standard one for the depth is spelled out."""
        out = f"densenet{self.depth}"
        if STANDARD.get(self.depth) != (self.growth_rate, self.blocks):
            out += f"_k{self.growth_rate}_b" + "-".join(map(str, self.blocks))
        if self.init_features != 2 * self.growth_rate:
            out += f"_init{self.init_features}"
        if self.bn_size != 4:
            out += f"_bn{self.bn_size}"
        if self.stem != "7x7":
            out += f"_{self.stem}stem"
        if self.blur_pool:
            out += "_blurpool"
        if self.bn_eps != DEFAULT_BN_EPS:
            out += "_bneps" + f"{self.bn_eps:.0e}".replace("e-0", "e-")
        return out
