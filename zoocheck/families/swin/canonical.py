"""The canonical weights of a Swin Transformer (V1 and V2): one naming for every source, their
shapes, and a numpy forward computing exactly the network the ``SwinSpec`` describes.

Names (timm's, stage by stage):

- ``patch_embed.weight`` [dim, 3, patch, patch], ``.bias``; ``patch_embed.norm`` (LayerNorm);
- stage s (0-based) from 1 on starts with ``stages.{s}.downsample.reduction`` (``weight``
  [2 C, 4 C], no bias: C the previous stage's width, the 4 C input the 2x2 neighbours' channels in
  the order (0, 0), (1, 0), (0, 1), (1, 1) of (row, column) offsets) and
  ``stages.{s}.downsample.norm`` (over 4 C before it, V1; over 2 C after it, V2);
- block i of stage s: ``stages.{s}.blocks.{i}.norm1``, ``.attn.qkv`` (``weight`` [3 C, C], q, k,
  v stacked; V1 ``bias`` [3 C]; V2 ``.attn.q_bias`` and ``.attn.v_bias`` [C], the key has none),
  V1's ``.attn.relative_position_bias_table`` [(2 w - 1)^2, heads]; V2's ``.attn.logit_scale``
  [heads, 1, 1] and the position-bias MLP ``.attn.cpb_mlp.0`` (``weight`` [512, 2], ``bias``),
  ``.attn.cpb_mlp.2`` (``weight`` [heads, 512]); ``.attn.proj``, ``.norm2``, ``.mlp.fc1``,
  ``.mlp.fc2``;
- ``norm`` (the final LayerNorm), ``fc`` [classes, features].

Linear weights are [out, in] as torch stores them. Pure numpy (scipy's ``erf`` for the exact
GELU): no framework is imported here.
"""

from __future__ import annotations

import math

import numpy as np

from zoocheck.families.swin.spec import SwinSpec
from zoocheck.families.vit.canonical import gelu, layer_norm, softmax
from zoocheck.zoo_registry.types import Architecture

#: the position-bias MLP's hidden width (V2, every zoo)
CPB_HIDDEN = 512
#: what a masked attention logit gets added (every zoo)
MASK_VALUE = -100.0


def spec_of(arch: Architecture) -> SwinSpec:
    return arch.structure


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Canonical parameter name -> shape, in network order."""
    s = spec_of(arch)
    out: dict[str, tuple[int, ...]] = {"patch_embed.weight": (s.dim, 3, s.patch, s.patch), "patch_embed.bias": (s.dim,),
                                       "patch_embed.norm.weight": (s.dim,), "patch_embed.norm.bias": (s.dim,)}  # fmt: skip
    for stage, depth in enumerate(s.depths):
        c, heads = s.width(stage), s.heads[stage]
        if stage:  # the previous width's 2x2 neighbours (2 C) to C
            merge = f"stages.{stage}.downsample"
            normed = c if s.v2 else 2 * c
            out.update({f"{merge}.reduction.weight": (c, 2 * c), f"{merge}.norm.weight": (normed,), f"{merge}.norm.bias": (normed,)})
        window = s.stage_window(stage)
        for i in range(depth):
            b = f"stages.{stage}.blocks.{i}"
            out.update({f"{b}.norm1.weight": (c,), f"{b}.norm1.bias": (c,), f"{b}.attn.qkv.weight": (3 * c, c)})
            if s.v2:
                out.update(
                    {
                        f"{b}.attn.q_bias": (c,),
                        f"{b}.attn.v_bias": (c,),
                        f"{b}.attn.logit_scale": (heads, 1, 1),
                        f"{b}.attn.cpb_mlp.0.weight": (CPB_HIDDEN, 2),
                        f"{b}.attn.cpb_mlp.0.bias": (CPB_HIDDEN,),
                        f"{b}.attn.cpb_mlp.2.weight": (heads, CPB_HIDDEN),
                    }
                )
            else:
                out.update({f"{b}.attn.qkv.bias": (3 * c,), f"{b}.attn.relative_position_bias_table": ((2 * window - 1) ** 2, heads)})
            out.update(
                {
                    f"{b}.attn.proj.weight": (c, c),
                    f"{b}.attn.proj.bias": (c,),
                    f"{b}.norm2.weight": (c,),
                    f"{b}.norm2.bias": (c,),
                    f"{b}.mlp.fc1.weight": (4 * c, c),
                    f"{b}.mlp.fc1.bias": (4 * c,),
                    f"{b}.mlp.fc2.weight": (c, 4 * c),
                    f"{b}.mlp.fc2.bias": (c,),
                }
            )
    f = s.features
    out.update({"norm.weight": (f,), "norm.bias": (f,), "fc.weight": (arch.num_classes, f), "fc.bias": (arch.num_classes,)})
    return out


def attention_branch(spec: SwinSpec, stage: int, index: int) -> str:
    """The canonical graph's tensor a block adds to its input first (``template.py``): V1 the
    window attention's output, windows put back and the shift undone (the column Concat of the
    un-shift, or without a shift the windows' reverse Reshape); V2 its post-norm ``norm1``."""
    block = f"stages.{stage}.blocks.{index}"
    if spec.v2:
        return f"{block}.norm1"
    return f"{block}.attn.unshift.2" if spec.shift(stage, index) else f"{block}.attn.unwindows"


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    block's attention branch (``attention_branch``: the map [B, H, W, C] every zoo's network hands
    over; V1's module is the whole window attention ``attn``, which no parameter names,
    ``layouts.tap_modules``; V2's is ``norm1``) and its MLP output (``fc2``, before the residual
    addition (V1) or its norm (V2): a Linear module in every zoo's network)."""
    s = spec_of(arch)
    taps = {}
    for stage, depth in enumerate(s.depths):
        for i in range(depth):
            block = f"stages.{stage}.blocks.{i}"
            taps[attention_branch(s, stage, i)] = f"{block}.norm1" if s.v2 else f"{block}.attn"
            taps[f"{block}.mlp.fc2"] = f"{block}.mlp.fc2"
    return taps


# --- the window attention's constants (functions of the spec alone) ----------------------------


def relative_position_index(window: int) -> np.ndarray:
    """[N, N] index into the (2w - 1)^2 relative positions of a window of N = w * w tokens."""
    coords = np.stack(np.meshgrid(np.arange(window), np.arange(window), indexing="ij")).reshape(2, -1)
    relative = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0) + (window - 1)
    return relative[..., 0] * (2 * window - 1) + relative[..., 1]


def relative_coords_table(window: int, coords_window: int) -> np.ndarray:
    """V2: the position-bias MLP's inputs [(2w - 1)^2, 2], log-spaced: ``sign(t) * log2(|t| + 1) /
    3`` of the offsets scaled to +-8 over ``coords_window``."""
    offsets = np.arange(-(window - 1), window, dtype=np.float32)
    table = np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1).reshape(-1, 2)
    table = table / np.float32(coords_window - 1) * np.float32(8)
    return (np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(math.log2(8))).astype(np.float32)


def attention_mask(resolution: int, window: int, shift: int) -> np.ndarray | None:
    """[windows, N, N]: 0 where two tokens of a shifted window come from one region of the map,
    ``MASK_VALUE`` where the cyclic shift brought them together; None without a shift."""
    if not shift:
        return None
    regions = np.zeros((resolution, resolution))
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    for count, (h, w) in enumerate((h, w) for h in bands for w in bands):
        regions[h, w] = count
    windows = partition(regions[None, :, :, None], window).reshape(-1, window * window)
    return np.where(windows[:, None, :] != windows[:, :, None], MASK_VALUE, 0.0)


def position_bias(spec: SwinSpec, params: dict[str, np.ndarray], block: str, stage: int) -> np.ndarray:
    """[heads, N, N]: the table gathered (V1), or V2's MLP of the coordinates, ``16 * sigmoid``."""
    window = spec.stage_window(stage)
    index = relative_position_index(window).reshape(-1)
    n = window * window
    if not spec.v2:
        table = params[f"{block}.attn.relative_position_bias_table"]
    else:
        coords = relative_coords_table(window, spec.coords_window(stage)).astype(params[f"{block}.attn.cpb_mlp.0.weight"].dtype)
        hidden = np.maximum(coords @ params[f"{block}.attn.cpb_mlp.0.weight"].T + params[f"{block}.attn.cpb_mlp.0.bias"], 0)
        table = hidden @ params[f"{block}.attn.cpb_mlp.2.weight"].T
    bias = table[index].reshape(n, n, -1).transpose(2, 0, 1)
    return bias if not spec.v2 else 16 / (1 + np.exp(-bias))


def logit_scale(params: dict[str, np.ndarray], block: str) -> np.ndarray:
    """V2: each head's logit scale, ``exp(min(logit_scale, log 100))``."""
    raw = params[f"{block}.attn.logit_scale"]
    return np.exp(np.minimum(raw, raw.dtype.type(math.log(100.0))))


# --- the forward -------------------------------------------------------------------------------


def partition(x: np.ndarray, window: int) -> np.ndarray:
    """[B, H, W, C] -> [B * windows, w * w, C] (windows row by row)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // window, window, w // window, window, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def merge(windows: np.ndarray, window: int, h: int, w: int) -> np.ndarray:
    c = windows.shape[-1]
    return windows.reshape(-1, h // window, w // window, window, window, c).transpose(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def window_attention(spec: SwinSpec, params: dict[str, np.ndarray], block: str, stage: int, index: int, y: np.ndarray) -> np.ndarray:
    """The (shifted) window attention of the normalised map ``y`` [B, H, W, C], its projection and
    the windows put back included."""
    _, side, _, c = y.shape
    heads, window, shift = spec.heads[stage], spec.stage_window(stage), spec.shift(stage, index)
    if shift:
        y = np.roll(y, (-shift, -shift), axis=(1, 2))
    tokens = partition(y, window)
    n = window * window
    if spec.v2:
        zeros = np.zeros_like(params[f"{block}.attn.q_bias"])
        bias = np.concatenate([params[f"{block}.attn.q_bias"], zeros, params[f"{block}.attn.v_bias"]])
    else:
        bias = params[f"{block}.attn.qkv.bias"]
    qkv = tokens @ params[f"{block}.attn.qkv.weight"].T + bias
    q, k, v = qkv.reshape(-1, n, 3, heads, c // heads).transpose(2, 0, 3, 1, 4)
    if spec.v2:
        q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
        k = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), 1e-12)
        logits = (q @ k.transpose(0, 1, 3, 2)) * logit_scale(params, block)
    else:
        logits = (q * y.dtype.type((c // heads) ** -0.5)) @ k.transpose(0, 1, 3, 2)
    logits = logits + position_bias(spec, params, block, stage)
    mask = attention_mask(side, window, shift)
    if mask is not None:
        windows = mask.shape[0]
        logits = (logits.reshape(-1, windows, heads, n, n) + mask[None, :, None].astype(y.dtype)).reshape(-1, heads, n, n)
    context = (softmax(logits) @ v).transpose(0, 2, 1, 3).reshape(-1, n, c)
    out = merge(context @ params[f"{block}.attn.proj.weight"].T + params[f"{block}.attn.proj.bias"], window, side, side)
    return np.roll(out, (shift, shift), axis=(1, 2)) if shift else out


def patch_merging(spec: SwinSpec, params: dict[str, np.ndarray], stage: int, x: np.ndarray) -> np.ndarray:
    m = f"stages.{stage}.downsample"
    x = np.concatenate([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], axis=-1)
    norm = (params[f"{m}.norm.weight"], params[f"{m}.norm.bias"], spec.ln_eps)
    if spec.v2:
        return layer_norm(x @ params[f"{m}.reduction.weight"].T, *norm)
    return layer_norm(x, *norm) @ params[f"{m}.reduction.weight"].T


def forward(
    arch: Architecture,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    features: list | None = None,
    taps: dict | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """Logits of canonical ``params`` on NCHW ``x`` in ``dtype``; ``features``, when given,
    receives what the classifier reads and ``taps`` each block's attention branch and MLP output
    by their ``layer_outputs`` names."""
    spec = spec_of(arch)
    if x.shape[-1] != spec.image_size or x.shape[-2] != spec.image_size:
        raise ValueError(
            f"{spec.id} computes on {spec.image_size}-pixel inputs (its windows, shifts and masks), not {x.shape[-2]}x{x.shape[-1]}"
        )
    w = {k: v.astype(dtype, copy=False) for k, v in params.items()}
    n, p, g = x.shape[0], spec.patch, spec.image_size // spec.patch
    patches = x.astype(dtype).reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g, g, 3 * p * p)
    h = patches @ w["patch_embed.weight"].reshape(spec.dim, -1).T + w["patch_embed.bias"]
    h = layer_norm(h, w["patch_embed.norm.weight"], w["patch_embed.norm.bias"], spec.ln_eps)
    for stage, depth in enumerate(spec.depths):
        if stage:
            h = patch_merging(spec, w, stage, h)
        for i in range(depth):
            b = f"stages.{stage}.blocks.{i}"
            norm1, norm2 = ((w[f"{b}.{ln}.weight"], w[f"{b}.{ln}.bias"], spec.ln_eps) for ln in ("norm1", "norm2"))
            if spec.v2:
                branch = layer_norm(window_attention(spec, w, b, stage, i, h), *norm1)
            else:
                branch = window_attention(spec, w, b, stage, i, layer_norm(h, *norm1))
            if taps is not None:
                taps[attention_branch(spec, stage, i)] = branch
            h = h + branch
            y = gelu((h if spec.v2 else layer_norm(h, *norm2)) @ w[f"{b}.mlp.fc1.weight"].T + w[f"{b}.mlp.fc1.bias"])
            out = y @ w[f"{b}.mlp.fc2.weight"].T + w[f"{b}.mlp.fc2.bias"]
            if taps is not None:
                taps[f"{b}.mlp.fc2"] = out
            h = h + (layer_norm(out, *norm2) if spec.v2 else out)
    pooled = layer_norm(h, w["norm.weight"], w["norm.bias"], spec.ln_eps).mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    return pooled @ w["fc.weight"].T + w["fc.bias"]
