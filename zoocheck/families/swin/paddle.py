"""PaddleClas's Swin Transformer (V1 and V2) in Paddle, with PaddleClas's own parameter names, so
that a ``SwinTransformer*_pretrained.pdparams`` PaddleClas published loads by name.

ppcls/arch/backbone/legendary_models/swin_transformer.py (PaddleClas 2.6; model_zoo/ before):
``patch_embed.proj`` (the 4x4/4 conv, then ``flatten(2).transpose``) and
``patch_embed.norm``; stage s is ``layers.{s}``: ``blocks.{i}`` (``norm1``, the window attention
``attn`` with ``qkv``, ``proj``, the parameter ``relative_position_bias_table`` [(2w - 1)^2,
heads] gathered by the buffer ``relative_position_index`` [w^2, w^2], q scaled by
``head_dim ** -0.5``, in odd blocks the map rolled by half a window and the -100 mask; ``norm2``,
``mlp.fc1``, GELU, ``mlp.fc2``), then, but in the last stage, ``downsample`` (the 2x2 neighbours'
channels concatenated in the order (0, 0), (1, 0), (0, 1), (1, 1), ``norm`` over 4 C, then
``reduction``, no bias); ``norm``, the mean over tokens, ``head``. A Paddle Linear's weight is
[in, out].

A stage whose map is not larger than the window is one window of the map; whether odd blocks
shift and mask it is the spec's ``shift_single_window``: PaddleClas 2.6's legendary file does (its
entries' spec), its model_zoo file before 2.6 and the official code the weights were converted
from do not, another function of the same weights (2e-2 of the logit range at random weights:
tests/test_paddle_swin_convnext.py). The constants (the mask, the bias index) are the spec's,
from ``canonical.py``, as the file computes them at construction.

Swin V2 is ``model_zoo/swin_transformer_v2.py`` (PaddleClas 2.5; the copy in the 2.6 wheel does not
run: its block reads names it never defines), the official V2 code in Paddle: post-norm blocks
(``x + norm1(attn(x))``, ``x + norm2(mlp(x))``), cosine attention (q and k normalised,
``exp(min(logit_scale, log 100))``) with the q/k/v Linear's bias the parameters ``q_bias`` and
``v_bias`` around zeros, the position bias ``16 * sigmoid`` of the MLP ``cpb_mlp`` (Linear 2 ->
512, ReLU, Linear 512 -> heads without bias) of the buffer ``relative_coords_table``, the shifted
blocks' mask the block's buffer ``attn_mask``, and patch merging's ``reduction`` before its ``norm``
over 2 C. Its checkpoints hold the buffers, whose values are the spec's; the mask is read past
(``SwinTransformer.recomputed_buffers``): 2.5's files hold it as [windows, N, N] in the shifted
blocks, a state dict of 2.6's class as a zero [1, H, W, 1] placeholder in every block.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.paddle_layers import nn, paddle, require_fields
from zoocheck.families.swin.canonical import CPB_HIDDEN, attention_mask, relative_coords_table, relative_position_index
from zoocheck.families.swin.spec import SwinSpec

#: a slice "to the end", as torch.onnx writes it
ROLL_END = 2**63 - 1

SOURCE_FILES = {False: "legendary_models/swin_transformer.py", True: "model_zoo/swin_transformer_v2.py"}
#: what those files build; the other fields the builder implements
PADDLECLAS = {"patch": 4}
#: V2's bound on the logit scale, ``log(1 / 0.01)``
LOGIT_SCALE_MAX = float(np.log(100.0))


def _roll(x, shift: int):
    """``roll(x, (-shift, -shift), (1, 2))`` of an NHWC map as per-axis ``concat(x[shift:], x[:shift])``
    (the canonical graph's form; ``shift`` < 0 rolls back)."""
    for axis in (1, 2):
        tail = paddle.slice(x, axes=[axis], starts=[shift], ends=[ROLL_END])
        head = paddle.slice(x, axes=[axis], starts=[0], ends=[shift])
        x = paddle.concat([tail, head], axis=axis)
    return x


class WindowAttention(nn.Layer):
    def __init__(self, spec: SwinSpec, stage: int, block: int):
        super().__init__()
        width, self.heads, self.v2 = spec.width(stage), spec.heads[stage], spec.v2
        self.window, self.shift, self.side = spec.stage_window(stage), spec.shift(stage, block), spec.resolution(stage)
        self.scale = (width // self.heads) ** -0.5
        if spec.v2:
            self.logit_scale = self.create_parameter(shape=(self.heads, 1, 1))
            self.cpb_mlp = nn.Sequential(nn.Linear(2, CPB_HIDDEN), nn.ReLU(), nn.Linear(CPB_HIDDEN, self.heads, bias_attr=False))
            table = relative_coords_table(self.window, spec.coords_window(stage))
            self.register_buffer("relative_coords_table", paddle.to_tensor(table.reshape(1, 2 * self.window - 1, 2 * self.window - 1, 2)))
        else:
            self.relative_position_bias_table = self.create_parameter(shape=((2 * self.window - 1) ** 2, self.heads))
        self.register_buffer("relative_position_index", paddle.to_tensor(relative_position_index(self.window).astype(np.int64)))
        self.qkv = nn.Linear(width, 3 * width, bias_attr=not spec.v2)
        if spec.v2:
            self.q_bias = self.create_parameter(shape=(width,), is_bias=True)
            self.v_bias = self.create_parameter(shape=(width,), is_bias=True)
        self.proj = nn.Linear(width, width)

    def _position_bias(self, n: int):
        """[1, heads, N, N]: V1's table gathered, V2's MLP of the coordinates, ``16 * sigmoid``."""
        # cast: a float64 forward (``forward_fp64``) casts every buffer, the index too
        index = self.relative_position_index.reshape((-1,)).astype("int64")
        table = self.cpb_mlp(self.relative_coords_table).reshape((-1, self.heads)) if self.v2 else self.relative_position_bias_table
        bias = paddle.index_select(table, index).reshape((n, n, self.heads)).transpose((2, 0, 1)).unsqueeze(0)
        return 16 * nn.functional.sigmoid(bias) if self.v2 else bias

    def _logits(self, q, k):
        if not self.v2:
            return paddle.matmul(q * self.scale, k, transpose_y=True)
        q, k = (x / paddle.clip(paddle.linalg.norm(x, p=2, axis=-1, keepdim=True), min=1e-12) for x in (q, k))
        return paddle.matmul(q, k, transpose_y=True) * paddle.exp(paddle.clip(self.logit_scale, max=LOGIT_SCALE_MAX))

    def forward(self, x, mask):
        """``x``: the normalised map [B, H, W, C] -> the attention's output on it, windows put back;
        ``mask`` the shifted windows' [1, windows, 1, N, N] (as the logits are viewed) or None."""
        w, side, heads = self.window, self.side, self.heads
        c, count, n = x.shape[-1], side // w, w * w
        if self.shift:
            x = _roll(x, self.shift)
        if count > 1:
            x = x.reshape((-1, count, w, count, w, c)).transpose((0, 1, 3, 2, 4, 5))
        bias = paddle.concat([self.q_bias, paddle.zeros_like(self.q_bias), self.v_bias]) if self.v2 else self.qkv.bias
        qkv = nn.functional.linear(x.reshape((-1, n, c)), self.qkv.weight, bias)
        q, k, v = paddle.unbind(qkv.reshape((-1, n, 3, heads, c // heads)).transpose((2, 0, 3, 1, 4)), axis=0)
        attn = self._logits(q, k) + self._position_bias(n)
        if mask is not None:
            attn = (attn.reshape((-1, count**2, heads, n, n)) + mask).reshape((-1, heads, n, n))
        out = self.proj(paddle.matmul(nn.functional.softmax(attn, axis=-1), v).transpose((0, 2, 1, 3)).reshape((-1, n, c)))
        if count > 1:
            out = out.reshape((-1, count, count, w, w, c)).transpose((0, 1, 3, 2, 4, 5))
        out = out.reshape((-1, side, side, c))
        return _roll(out, -self.shift) if self.shift else out


class Mlp(nn.Layer):
    def __init__(self, width: int):
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class SwinTransformerBlock(nn.Layer):
    """On the NHWC map, as every layer here (PaddleClas's file keeps [B, H * W, C] tokens between
    them: the same function)."""

    def __init__(self, spec: SwinSpec, stage: int, block: int):
        super().__init__()
        width, self.v2 = spec.width(stage), spec.v2
        self.norm1 = nn.LayerNorm(width, epsilon=spec.ln_eps)
        self.attn = WindowAttention(spec, stage, block)
        self.norm2 = nn.LayerNorm(width, epsilon=spec.ln_eps)
        self.mlp = Mlp(width)
        mask = attention_mask(spec.resolution(stage), spec.stage_window(stage), spec.shift(stage, block))
        # [1, windows, 1, N, N], as the logits are viewed
        self.register_buffer(
            "attn_mask", None if mask is None else paddle.to_tensor(mask[None, :, None].astype(np.float32)), persistable=False
        )

    def forward(self, x):
        if self.v2:
            x = x + self.norm1(self.attn(x, self.attn_mask))
            return x + self.norm2(self.mlp(x))
        x = x + self.attn(self.norm1(x), self.attn_mask)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Layer):
    def __init__(self, spec: SwinSpec, stage: int):
        super().__init__()
        width, self.v2 = spec.width(stage), spec.v2
        self.half = spec.resolution(stage) // 2
        self.reduction = nn.Linear(4 * width, 2 * width, bias_attr=False)
        self.norm = nn.LayerNorm((2 if spec.v2 else 4) * width, epsilon=spec.ln_eps)

    def forward(self, x):
        """The 2x2 neighbours' channels in the order (0, 0), (1, 0), (0, 1), (1, 1) of (row,
        column) offsets, PaddleClas's four strided slices, as one reshape and transpose; V2
        normalises after the reduction."""
        c, half = x.shape[-1], self.half
        x = x.reshape((-1, half, 2, half, 2, c)).transpose((0, 1, 3, 4, 2, 5)).reshape((-1, half, half, 4 * c))
        return self.norm(self.reduction(x)) if self.v2 else self.reduction(self.norm(x))


class BasicLayer(nn.Layer):
    def __init__(self, spec: SwinSpec, stage: int):
        super().__init__()
        self.blocks = nn.LayerList([SwinTransformerBlock(spec, stage, i) for i in range(spec.depths[stage])])
        self.downsample = PatchMerging(spec, stage) if stage < len(spec.depths) - 1 else None

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.downsample(x) if self.downsample is not None else x


class PatchEmbed(nn.Layer):
    def __init__(self, spec: SwinSpec):
        super().__init__()
        self.proj = nn.Conv2D(3, spec.dim, spec.patch, stride=spec.patch)
        self.norm = nn.LayerNorm(spec.dim, epsilon=spec.ln_eps)

    def forward(self, x):
        return self.norm(self.proj(x).transpose((0, 2, 3, 1)))


class SwinTransformer(nn.Layer):
    #: buffers a checkpoint may hold, in any shape, that the network computes from its spec instead
    recomputed_buffers = ("attn_mask",)

    def __init__(self, spec: SwinSpec, num_classes: int):
        super().__init__()
        self.patch_embed = PatchEmbed(spec)
        self.layers = nn.LayerList([BasicLayer(spec, stage) for stage in range(len(spec.depths))])
        self.norm = nn.LayerNorm(spec.features, epsilon=spec.ln_eps)
        self.head = nn.Linear(spec.features, num_classes)

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        pooled = nn.functional.adaptive_avg_pool2d(self.norm(x).transpose((0, 3, 1, 2)), 1)
        # a constant [0, -1] target, not flatten's shape arithmetic on the batch size
        return self.head(pooled.reshape((0, -1)))


def build_network(arch):
    """A ``paddle.nn.Layer`` computing ``arch`` whose ``state_dict`` keys are PaddleClas's names;
    NoBuilder for a Swin those files do not build."""
    require_fields(arch.structure, PADDLECLAS, SOURCE_FILES[arch.structure.v2])
    return SwinTransformer(arch.structure, arch.num_classes)
