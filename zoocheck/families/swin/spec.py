"""The Swin Transformer family's structure (Swin, Liu et al. 2021; Swin V2, Liu et al. 2022), as
pure data.

A ``SwinSpec`` says which function a Swin Transformer computes; two entries share its ``id`` only
when they compute the same function from the same weights. The skeleton: a ``patch`` x ``patch``
convolution with stride ``patch`` to ``dim`` channels and a LayerNorm (the patch embedding), then
stages; stage s (0-based) has ``depths[s]`` blocks of ``heads[s]`` heads at width
``dim * 2**s`` on a map of side ``image_size / patch / 2**s``, and every stage but the first starts
with a patch merging (the 2x2 neighbours' channels concatenated, then a Linear to twice the width;
V1 normalises the 4C vector first, V2 the 2C result). A block is windowed multi-head
self-attention and an MLP (two Linear layers, exact GELU between); odd blocks shift the windows
by half a window (a cyclic shift of the map, and a mask that keeps the wrapped-around regions
apart). A stage whose map is not larger than the window has one window of the map's size and no
shift (what the official code, torchvision, timm and mmpretrain compute), unless
``shift_single_window``. Then the final LayerNorm, the mean over tokens and the classifier.

Fields, with who sets what:

- ``dim``, ``depths``, ``heads``: the stage-1 width, the blocks and the heads per stage
  (tiny 96 (2, 2, 6, 2) (3, 6, 12, 24), small 96 (2, 2, 18, 2), base 128 (2, 2, 18, 2)
  (4, 8, 16, 32), large 192 (2, 2, 18, 2) (6, 12, 24, 48)).
- ``window``: the window's side (7, 12 for V1; 8, 16, 24 for V2), shrunk to the map where the
  map is smaller.
- ``image_size``: the side of the square input; the windows, shifts, masks and position biases
  are those of that size, so the canonical graph computes at that size only.
- ``patch``: the patch embedding's side (4 in every zoo).
- ``v2``: Swin V2: post-norm blocks (``x + norm(attn(x))``, ``x + norm(mlp(x))``), cosine
  attention with a learnt per-head logit scale (``exp(min(scale, log 100))``), the relative
  position bias from a continuous position-bias MLP (``16 * sigmoid(mlp(log-spaced
  coordinates))``), no key bias, and the patch merging's norm after its Linear.
- ``pretrained_window``: V2 only, per stage: the window size whose coordinates the position-bias
  MLP's inputs are normalised by (the pre-training window of the 22k models fine-tuned to a
  larger window: timm ``pretrained_window_sizes``, mmpretrain ``pretrained_window_sizes``,
  PaddleClas ``pretrained_window_sizes``); empty: each stage's own window.
- ``ln_eps``: the LayerNorms' epsilon (1e-5 in every zoo).
- ``shift_single_window``: odd blocks shift (and mask) a stage that is one window too: PaddleClas
  2.6's ``legendary_models/swin_transformer.py``, the file its Swin V1 entries' weights are
  published under and the version zoocheck's set-up installs (its ``model_zoo`` file before 2.6
  kept the official rule). The same weights, another function (2e-2 of the logit range at random
  weights, stage 4 of every Swin at 224 and 384 being one window).

Pure Python, imports nothing of zoocheck.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LN_EPS = 1e-5
#: the named sizes: (dim, depths, heads)
SIZES: dict[str, tuple[int, tuple[int, ...], tuple[int, ...]]] = {
    "tiny": (96, (2, 2, 6, 2), (3, 6, 12, 24)), "small": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": (128, (2, 2, 18, 2), (4, 8, 16, 32)), "large": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}  # fmt: skip


@dataclass(frozen=True)
class SwinSpec:
    """The structure of one Swin Transformer (see the module docstring for every field)."""

    dim: int
    depths: tuple[int, ...]
    heads: tuple[int, ...]
    window: int
    image_size: int = 224
    patch: int = 4
    v2: bool = False
    pretrained_window: tuple[int, ...] = ()
    ln_eps: float = DEFAULT_LN_EPS
    shift_single_window: bool = False

    family = "swin"

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.heads):
            raise ValueError(f"{len(self.depths)} stages of blocks but {len(self.heads)} of heads")
        for stage, heads in enumerate(self.heads):
            if self.width(stage) % heads:
                raise ValueError(f"stage {stage + 1}: {self.width(stage)} channels do not split into {heads} heads")
        if self.pretrained_window and (not self.v2 or len(self.pretrained_window) != len(self.depths)):
            raise ValueError("pretrained_window is a V2 spec's, one size per stage")
        for stage in range(len(self.depths)):
            side = self.resolution(stage)
            if side * self.patch * 2**stage != self.image_size or side % self.stage_window(stage):
                raise ValueError(
                    f"a {self.image_size}-pixel input is no whole number of {self.stage_window(stage)}-token windows in stage {stage + 1}"
                )

    def width(self, stage: int) -> int:
        return self.dim * 2**stage

    def resolution(self, stage: int) -> int:
        """The map's side in ``stage`` (0-based)."""
        return self.image_size // self.patch // 2**stage

    def stage_window(self, stage: int) -> int:
        return min(self.window, self.resolution(stage))

    def shift(self, stage: int, block: int) -> int:
        """The cyclic shift of ``block`` in ``stage``: half a window in odd blocks, none where the
        window covers the map (but with ``shift_single_window``)."""
        window = self.stage_window(stage)
        return window // 2 if block % 2 and (window < self.resolution(stage) or self.shift_single_window) else 0

    def coords_window(self, stage: int) -> int:
        """V2: the window size the position-bias MLP's coordinates are normalised by."""
        return self.pretrained_window[stage] if self.pretrained_window and self.pretrained_window[stage] else self.stage_window(stage)

    @property
    def features(self) -> int:
        return self.width(len(self.depths) - 1)

    @property
    def size(self) -> str | None:
        return next((name for name, dims in SIZES.items() if dims == (self.dim, self.depths, self.heads)), None)

    @property
    def id(self) -> str:
        """``swin_tiny_w7_224`` (torchvision's swin_t, timm's swin_tiny_patch4_window7_224,
        mmpretrain's swin-tiny; PaddleClas's SwinTransformer_tiny_patch4_window7_224 is
        ``swin_tiny_w7_224_shift1window``),
        ``swinv2_tiny_w8_256``, ``swinv2_base_w16_256_pw12-12-12-6`` (a 22k model fine-tuned to
        a larger window); an unnamed size spells its dimensions (``swin_d32l2-2h2-4_w7_56``), and
        every field that differs from its default is named."""
        size = self.size or f"d{self.dim}l{'-'.join(map(str, self.depths))}h{'-'.join(map(str, self.heads))}"
        out = f"swin{'v2' if self.v2 else ''}_{size}_w{self.window}_{self.image_size}"
        if self.patch != 4:
            out += f"_p{self.patch}"
        if self.pretrained_window:
            out += "_pw" + "-".join(map(str, self.pretrained_window))
        if self.ln_eps != DEFAULT_LN_EPS:
            out += "_lneps" + f"{self.ln_eps:.0e}".replace("e-0", "e-")
        if self.shift_single_window:
            out += "_shift1window"
        return out


def sized(name: str, window: int, image_size: int, **fields) -> SwinSpec:
    """The spec of a named size (``SIZES``)."""
    if name not in SIZES:
        raise ValueError(f"no Swin size {name!r} (known: {', '.join(SIZES)})")
    dim, depths, heads = SIZES[name]
    return SwinSpec(dim=dim, depths=depths, heads=heads, window=window, image_size=image_size, **fields)
