"""mmpretrain's Swin Transformer (V1 and V2) classifiers in torch, with mmpretrain's own parameter
names, so that its checkpoints (``{"meta", "state_dict"}``) load by name, strictly.

mmpretrain 1.2.0 ``models/backbones/swin_transformer.py``, ``swin_transformer_v2.py``,
``models/utils/attention.py`` (``ShiftWindowMSA``, ``WindowMSA`` / ``WindowMSAV2``) and
``models/utils/embed.py`` (``PatchEmbed``, ``PatchMerging``): ``backbone.patch_embed.projection``
/ ``.norm``; ``backbone.stages.{s}.blocks.{i}`` (``norm1``, ``attn.w_msa.qkv`` / ``proj`` /
``relative_position_bias_table`` / ``relative_position_index`` (a buffer in its checkpoints; V2:
``logit_scale``, ``q_bias``, ``v_bias``, ``cpb_mlp.0`` / ``.2`` and the ``relative_coords_table``
buffer, normalised by the pretrained window), ``norm2``, ``ffn.layers.0.0`` / ``ffn.layers.1``);
the patch merging (``.downsample.norm`` / ``.reduction``) at the end of stage s in V1 (where timm
and torchvision have it at the start of stage s + 1), at the start of stage s in V2;
``backbone.norm{last stage}`` (the final norm), the neck's global average pool, ``head.fc``.
mmpretrain's huge and giant V2 (``extra_norm_every_n_blocks``) have no ImageNet-1k entries.

mmpretrain's patch merging gathers each 2x2 neighbourhood with ``nn.Unfold``: its 4 C channels are
channel-major (``c * 4 + row * 2 + column``), not the canonical offset-major order of
``canonical.patch_merging``. This network computes the merging in the canonical order and reads
the norm's and the reduction's weights through ``merging_order`` (the same function: the
permutation folds into constants at export, and the canonical graph follows); the layout writes
canonical weights in mmpretrain's order (``layouts.to_mmpretrain``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from zoocheck.converters.base import require_fields
from zoocheck.families.swin.canonical import CPB_HIDDEN, attention_mask, relative_coords_table, relative_position_index
from zoocheck.families.swin.spec import DEFAULT_LN_EPS, SwinSpec

#: what mmpretrain's SwinTransformer and SwinTransformerV2 build for every arch
MMPRETRAIN = {"patch": 4, "ln_eps": DEFAULT_LN_EPS}


def merging_order(channels: int) -> np.ndarray:
    """For each canonical merged channel ``(column * 2 + row) * C + c``, the channel of mmpretrain's
    ``nn.Unfold`` holding it, ``c * 4 + row * 2 + column``."""
    offset, c = np.divmod(np.arange(4 * channels), channels)
    column, row = np.divmod(offset, 2)
    return c * 4 + row * 2 + column


class WindowMSA(nn.Module):
    """``WindowMSA``, or with ``spec.v2`` ``WindowMSAV2`` (cosine attention, the position-bias MLP
    of the coordinates table its checkpoints hold, q and v biases around the key's zeros)."""

    def __init__(self, spec: SwinSpec, stage: int):
        super().__init__()
        c, window = spec.width(stage), spec.stage_window(stage)
        self.heads, self.tokens, self.v2 = spec.heads[stage], window * window, spec.v2
        self.qkv = nn.Linear(c, 3 * c, bias=not spec.v2)
        self.proj = nn.Linear(c, c)
        if spec.v2:
            self.logit_scale = nn.Parameter(torch.zeros(self.heads, 1, 1))
            self.q_bias, self.v_bias = nn.Parameter(torch.zeros(c)), nn.Parameter(torch.zeros(c))
            self.cpb_mlp = nn.Sequential(nn.Linear(2, CPB_HIDDEN), nn.ReLU(), nn.Linear(CPB_HIDDEN, self.heads, bias=False))
            table = relative_coords_table(window, spec.coords_window(stage)).reshape(1, 2 * window - 1, 2 * window - 1, 2)
            self.register_buffer("relative_coords_table", torch.from_numpy(table))
        else:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, self.heads))
        self.register_buffer("relative_position_index", torch.from_numpy(relative_position_index(window)))

    def forward(self, x, mask):
        t, c = self.tokens, self.proj.in_features
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias)) if self.v2 else self.qkv.bias
        q, k, v = F.linear(x, self.qkv.weight, bias).reshape(-1, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.v2:
            logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            logits = logits * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
            table = self.cpb_mlp(self.relative_coords_table).reshape(-1, self.heads)
        else:
            logits = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)
            table = self.relative_position_bias_table
        bias = table[self.relative_position_index.reshape(-1)].reshape(t, t, -1).permute(2, 0, 1)
        logits = logits + (16 * torch.sigmoid(bias) if self.v2 else bias).unsqueeze(0)
        if mask is not None:
            logits = (logits.reshape(-1, mask.shape[1], self.heads, t, t) + mask).reshape(-1, self.heads, t, t)
        return self.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(-1, t, c))


class ShiftWindowMSA(nn.Module):
    def __init__(self, spec: SwinSpec, stage: int, block: int):
        super().__init__()
        self.w_msa = WindowMSA(spec, stage)
        self.window, self.shift, self.side, self.channels = (
            spec.stage_window(stage),
            spec.shift(stage, block),
            spec.resolution(stage),
            spec.width(stage),
        )
        mask = attention_mask(self.side, self.window, self.shift)
        mask = None if mask is None else torch.from_numpy(mask.astype(np.float32))[None, :, None]
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        side, c, w = self.side, self.channels, self.window
        count = side // w
        if self.shift:
            x = torch.roll(x, (-self.shift, -self.shift), (1, 2))
        x = x.reshape(-1, count, w, count, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)
        x = self.w_msa(x, self.mask)
        x = x.reshape(-1, count, count, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, side, side, c)
        return torch.roll(x, (self.shift, self.shift), (1, 2)) if self.shift else x


class FFN(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(channels, 4 * channels), nn.GELU()), nn.Linear(4 * channels, channels))

    def forward(self, x):
        return self.layers(x)


class SwinBlock(nn.Module):
    def __init__(self, spec: SwinSpec, stage: int, block: int):
        super().__init__()
        c = spec.width(stage)
        self.norm1 = nn.LayerNorm(c, eps=spec.ln_eps)
        self.attn = ShiftWindowMSA(spec, stage, block)
        self.norm2 = nn.LayerNorm(c, eps=spec.ln_eps)
        self.ffn = FFN(c)
        self.post_norm = spec.v2

    def forward(self, x):
        if self.post_norm:  # V2
            x = x + self.norm1(self.attn(x))
            return x + self.norm2(self.ffn(x))
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class PatchMerging(nn.Module):
    """The 2x2 neighbours of a ``side`` map merged: V1 normalises the 4 C vector, then reduces it;
    V2 (``is_post_norm``) normalises the 2 C result."""

    def __init__(self, side: int, channels: int, eps: float, post_norm: bool):
        super().__init__()
        self.side, self.channels, self.post_norm = side, channels, post_norm
        self.reduction = nn.Linear(4 * channels, 2 * channels, bias=False)
        self.norm = nn.LayerNorm(2 * channels if post_norm else 4 * channels, eps=eps)
        self.register_buffer("order", torch.from_numpy(merging_order(channels)), persistent=False)

    def forward(self, x):
        half, c = self.side // 2, self.channels
        x = x.reshape(-1, half, 2, half, 2, c).permute(0, 1, 3, 4, 2, 5).reshape(-1, half, half, 4 * c)
        if self.post_norm:
            return self.norm(F.linear(x, self.reduction.weight[:, self.order]))
        x = F.layer_norm(x, self.norm.normalized_shape, self.norm.weight[self.order], self.norm.bias[self.order], self.norm.eps)
        return F.linear(x, self.reduction.weight[:, self.order])


class SwinBlockSequence(nn.Module):
    """A stage: V1's merging ends the stage before the next, V2's starts its own stage."""

    def __init__(self, spec: SwinSpec, stage: int):
        super().__init__()
        merged = stage + (0 if spec.v2 else 1)  # the stage whose input the merging makes
        if 0 < merged < len(spec.depths):
            self.downsample = PatchMerging(spec.resolution(merged - 1), spec.width(merged - 1), spec.ln_eps, spec.v2)
        self.blocks = nn.ModuleList(SwinBlock(spec, stage, i) for i in range(spec.depths[stage]))
        self.merge_first = spec.v2

    def forward(self, x):
        merge = getattr(self, "downsample", None)
        if merge is not None and self.merge_first:
            x = merge(x)
        for block in self.blocks:
            x = block(x)
        return merge(x) if merge is not None and not self.merge_first else x


class PatchEmbed(nn.Module):
    def __init__(self, spec: SwinSpec):
        super().__init__()
        self.projection = nn.Conv2d(3, spec.dim, spec.patch, spec.patch)
        self.norm = nn.LayerNorm(spec.dim, eps=spec.ln_eps)

    def forward(self, x):
        return self.norm(self.projection(x).permute(0, 2, 3, 1))


class SwinTransformer(nn.Module):
    def __init__(self, spec: SwinSpec):
        super().__init__()
        self.patch_embed = PatchEmbed(spec)
        self.stages = nn.ModuleList(SwinBlockSequence(spec, s) for s in range(len(spec.depths)))
        self.final_norm = f"norm{len(spec.depths) - 1}"
        self.add_module(self.final_norm, nn.LayerNorm(spec.features, eps=spec.ln_eps))

    def forward(self, x):
        x = self.patch_embed(x)
        for stage in self.stages:
            x = stage(x)
        return getattr(self, self.final_norm)(x).permute(0, 3, 1, 2)


class ClsHead(nn.Module):
    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x):
        return self.fc(x)


class ImageClassifier(nn.Module):
    """backbone, GlobalAveragePooling neck (no parameters), LinearClsHead."""

    def __init__(self, spec: SwinSpec, num_classes: int):
        super().__init__()
        self.backbone = SwinTransformer(spec)
        self.head = ClsHead(spec.features, num_classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.backbone(x), 1).flatten(1))


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    require_fields(arch.structure, MMPRETRAIN, "mmpretrain's SwinTransformer", "mmpretrain")
    return ImageClassifier(arch.structure, arch.num_classes).eval()
