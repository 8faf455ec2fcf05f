"""PaddleClas's ViT and DeiT in Paddle, with PaddleClas's own parameter names, so that a
``*_pretrained.pdparams`` PaddleClas published loads by name.

ppcls/arch/backbone/model_zoo/vision_transformer.py (``VisionTransformer``) and
distilled_vision_transformer.py (``DistilledVisionTransformer``): ``patch_embed.proj`` (the p x p / p
conv, then ``flatten(2).transpose((0, 2, 1))``), ``cls_token`` (``dist_token``) expanded to the
batch and concatenated in front, ``pos_embed`` added over every token, ``blocks.{i}`` (``norm1``,
``attn.qkv`` -> reshape ``(-1, N, 3, heads, C // heads)``, transpose ``(2, 0, 3, 1, 4)``,
``(q @ k^T) * scale``, softmax, ``(attn @ v)`` transposed and reshaped back, ``attn.proj``;
``norm2``, ``mlp.fc1``, GELU, ``mlp.fc2``), ``norm``, the class token's ``head`` (DeiT distilled:
``head_dist`` too, ``(head + head_dist) / 2``). A Paddle Linear's weight is [in, out].
"""

from __future__ import annotations

from zoocheck.converters.paddle_layers import nn, paddle, require_fields
from zoocheck.families.vit.spec import ViTSpec

SOURCE_FILE = "model_zoo/vision_transformer.py"
#: what those files build; the other fields the builder implements
PADDLECLAS = {"layer_scale": False, "pos_embed_tokens": True, "ffn_norm": "own"}


class Attention(nn.Layer):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.heads, self.scale = spec.heads, spec.scale
        self.qkv = nn.Linear(spec.dim, 3 * spec.dim, bias_attr=None if spec.qkv_bias else False)
        self.proj = nn.Linear(spec.dim, spec.dim)

    def forward(self, x):
        n, c = x.shape[1:]
        qkv = self.qkv(x).reshape((-1, n, 3, self.heads, c // self.heads)).transpose((2, 0, 3, 1, 4))
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = nn.functional.softmax(q.matmul(k.transpose((0, 1, 3, 2))) * self.scale, axis=-1)
        return self.proj(attn.matmul(v).transpose((0, 2, 1, 3)).reshape((-1, n, c)))


class Mlp(nn.Layer):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.fc1 = nn.Linear(spec.dim, spec.mlp_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(spec.mlp_dim, spec.dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Layer):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.norm1 = nn.LayerNorm(spec.dim, epsilon=spec.ln_eps)
        self.attn = Attention(spec)
        self.norm2 = nn.LayerNorm(spec.dim, epsilon=spec.ln_eps)
        self.mlp = Mlp(spec)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Layer):
    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.proj = nn.Conv2D(3, spec.dim, spec.patch, stride=spec.patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose((0, 2, 1))


class VisionTransformer(nn.Layer):
    def __init__(self, spec: ViTSpec, num_classes: int):
        super().__init__()
        self.spec = spec
        self.patch_embed = PatchEmbed(spec)
        self.pos_embed = self.create_parameter(shape=(1, spec.grid**2 + spec.prefix_tokens, spec.dim))
        self.cls_token = self.create_parameter(shape=(1, 1, spec.dim))
        if spec.distilled:
            self.dist_token = self.create_parameter(shape=(1, 1, spec.dim))
        self.blocks = nn.LayerList([Block(spec) for _ in range(spec.depth)])
        self.norm = nn.LayerNorm(spec.dim, epsilon=spec.ln_eps)
        self.head = nn.Linear(spec.dim, num_classes)
        if spec.distilled:
            self.head_dist = nn.Linear(spec.dim, num_classes)

    def forward(self, x):
        batch = x.shape[0]
        x = self.patch_embed(x)
        prefix = [self.cls_token.expand((batch, -1, -1)).astype(x.dtype)]
        if self.spec.distilled:
            prefix.append(self.dist_token.expand((batch, -1, -1)).astype(x.dtype))
        x = paddle.concat((*prefix, x), axis=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        if not self.spec.distilled:
            return self.head(x[:, 0])
        return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a ViT those files do not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILE)
    return VisionTransformer(arch.structure, arch.num_classes)
