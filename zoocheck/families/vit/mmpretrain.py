"""mmpretrain's VisionTransformer, DistilledVisionTransformer and DeiT3 classifiers in torch, with
mmpretrain's own parameter names, so that its checkpoints (``{"meta", "state_dict"}``) load by
name, strictly.

mmpretrain 1.2.0 ``models/backbones/vision_transformer.py``, ``deit.py``, ``deit3.py`` and
``models/heads/vision_transformer_head.py``, ``deit_head.py``: ``backbone.patch_embed.projection``
(the p x p / p conv), ``backbone.cls_token`` (``dist_token``), ``backbone.pos_embed`` (over the
class/distillation tokens too, but DeiT3's: the patches only, the class token concatenated after),
``backbone.layers.{i}`` (``ln1``, ``attn.qkv`` / ``attn.proj`` with DeiT3's ``attn.gamma1``,
``ln2``, ``ffn.layers.0.0`` / ``ffn.layers.1`` with GELU between and DeiT3's ``ffn.gamma2``),
``backbone.ln1`` (the final norm; LayerNorm epsilon 1e-6), no neck, and the head's
``head.layers.head`` (``head_dist``: DeiTClsHead, the mean of the two at evaluation). DeiT3's
``DeiT3TransformerEncoderLayer.forward`` normalises the MLP's input with ``ln1`` (``ln2`` is built,
loaded and never used): so here too.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from zoocheck.converters.base import require_fields
from zoocheck.families.vit.spec import DEFAULT_LN_EPS, ViTSpec

#: what mmpretrain builds for every arch
MMPRETRAIN = {"qkv_bias": True, "qk_scale": 0.0, "ln_eps": DEFAULT_LN_EPS}


class Attention(nn.Module):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.heads = spec.heads
        self.qkv = nn.Linear(spec.dim, 3 * spec.dim)
        self.proj = nn.Linear(spec.dim, spec.dim)
        if spec.layer_scale:
            self.gamma1 = LayerScale(spec.dim)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, t, d)
        x = self.proj(x)
        return self.gamma1(x) if hasattr(self, "gamma1") else x


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * self.weight


class FFN(nn.Module):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(spec.dim, spec.mlp_dim), nn.GELU()), nn.Linear(spec.mlp_dim, spec.dim))
        if spec.layer_scale:
            self.gamma2 = LayerScale(spec.dim)

    def forward(self, x):
        x = self.layers(x)
        return self.gamma2(x) if hasattr(self, "gamma2") else x


class EncoderLayer(nn.Module):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.ln1 = nn.LayerNorm(spec.dim, eps=spec.ln_eps)
        self.attn = Attention(spec)
        self.ln2 = nn.LayerNorm(spec.dim, eps=spec.ln_eps)
        self.ffn = FFN(spec)
        self.shared_norm = spec.ffn_norm == "attn"

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln1(x) if self.shared_norm else self.ln2(x))


class PatchEmbed(nn.Module):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.projection = nn.Conv2d(3, spec.dim, spec.patch, spec.patch)

    def forward(self, x):
        return self.projection(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.spec = spec
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        patches = spec.grid**2
        self.pos_embed = nn.Parameter(torch.zeros(1, patches + spec.prefix_tokens if spec.pos_embed_tokens else patches, spec.dim))
        if spec.distilled:
            self.dist_token = nn.Parameter(torch.zeros(1, 1, spec.dim))
        self.patch_embed = PatchEmbed(spec)
        self.layers = nn.ModuleList(EncoderLayer(spec) for _ in range(spec.depth))
        self.ln1 = nn.LayerNorm(spec.dim, eps=spec.ln_eps)

    def forward(self, x):
        x = self.patch_embed(x)
        prefix = [self.cls_token] + ([self.dist_token] if self.spec.distilled else [])
        prefix = [token.expand(x.shape[0], -1, -1) for token in prefix]
        if self.spec.pos_embed_tokens:
            x = torch.cat((*prefix, x), dim=1) + self.pos_embed
        else:
            x = torch.cat((*prefix, x + self.pos_embed), dim=1)
        for layer in self.layers:
            x = layer(x)
        x = self.ln1(x)
        return (x[:, 0], x[:, 1]) if self.spec.distilled else x[:, 0]


class ClsHead(nn.Module):
    """VisionTransformerClsHead (``layers.head``) or, with the distillation token, DeiTClsHead."""

    def __init__(self, spec: ViTSpec, num_classes: int):
        super().__init__()
        self.layers = nn.Module()
        self.layers.head = nn.Linear(spec.dim, num_classes)
        if spec.distilled:
            self.layers.head_dist = nn.Linear(spec.dim, num_classes)

    def forward(self, tokens):
        if not hasattr(self.layers, "head_dist"):
            return self.layers.head(tokens)
        cls_token, dist_token = tokens
        return (self.layers.head(cls_token) + self.layers.head_dist(dist_token)) / 2


class ImageClassifier(nn.Module):
    def __init__(self, spec: ViTSpec, num_classes: int):
        super().__init__()
        self.backbone = VisionTransformer(spec)
        self.head = ClsHead(spec, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def build_classifier(arch) -> nn.Module:
    """mmpretrain's ImageClassifier for ``arch`` (eval mode); NoBuilder where mmpretrain builds none."""
    require_fields(arch.structure, MMPRETRAIN, "mmpretrain's VisionTransformer", "mmpretrain")
    return ImageClassifier(arch.structure, arch.num_classes).eval()
