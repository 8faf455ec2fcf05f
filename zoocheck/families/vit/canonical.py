"""The canonical weights of a Vision Transformer: one naming for every source, their shapes, and a
numpy forward computing exactly the network the ``ViTSpec`` describes.

Names (docs/architecture.md, "Names"):

- ``patch_embed.weight`` [dim, 3, patch, patch] and ``.bias``: the patch embedding;
- ``tokens.cls`` [1, 1, dim], ``tokens.dist`` (distilled) and ``tokens.pos_embed`` [1, tokens, dim]
  (tokens: the patches, plus the class/distillation tokens where ``pos_embed_tokens``);
- block i (0-based): ``blocks.{i}.norm1`` (LayerNorm ``weight``, ``bias``), ``blocks.{i}.attn.qkv``
  (``weight`` [3 dim, dim]: q, k, v stacked, each head's ``head_dim`` rows in order; ``bias``
  [3 dim] where the spec has one), ``blocks.{i}.attn.proj``, ``blocks.{i}.ls1`` (layer scale
  ``weight`` [dim]), ``blocks.{i}.norm2`` (none where ``ffn_norm='attn'``: ``norm1`` again),
  ``blocks.{i}.mlp.fc1`` [mlp_dim, dim], ``blocks.{i}.mlp.fc2``, ``blocks.{i}.ls2``;
- ``norm`` (the final LayerNorm), ``fc`` [classes, dim] (the class token's classifier) and
  ``fc_dist`` (the distillation token's).

Linear weights are [out, in] as torch stores them. Pure numpy (scipy's ``erf`` for the exact
GELU): no framework is imported here.
"""

from __future__ import annotations

import numpy as np

from zoocheck.families.vit.spec import ViTSpec
from zoocheck.zoo_registry.types import Architecture


def spec_of(arch: Architecture) -> ViTSpec:
    return arch.structure


def token_count(spec: ViTSpec) -> int:
    return spec.grid**2 + spec.prefix_tokens


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Canonical parameter name -> shape, in network order."""
    s = spec_of(arch)
    d, p = s.dim, s.patch
    out: dict[str, tuple[int, ...]] = {"patch_embed.weight": (d, 3, p, p), "patch_embed.bias": (d,), "tokens.cls": (1, 1, d)}
    if s.distilled:
        out["tokens.dist"] = (1, 1, d)
    out["tokens.pos_embed"] = (1, token_count(s) if s.pos_embed_tokens else s.grid**2, d)
    for i in range(s.depth):
        b = f"blocks.{i}"
        out.update({f"{b}.norm1.weight": (d,), f"{b}.norm1.bias": (d,), f"{b}.attn.qkv.weight": (3 * d, d)})
        if s.qkv_bias:
            out[f"{b}.attn.qkv.bias"] = (3 * d,)
        out.update({f"{b}.attn.proj.weight": (d, d), f"{b}.attn.proj.bias": (d,)})
        if s.layer_scale:
            out[f"{b}.ls1.weight"] = (d,)
        if s.ffn_norm == "own":
            out.update({f"{b}.norm2.weight": (d,), f"{b}.norm2.bias": (d,)})
        out.update(
            {
                f"{b}.mlp.fc1.weight": (s.mlp_dim, d),
                f"{b}.mlp.fc1.bias": (s.mlp_dim,),
                f"{b}.mlp.fc2.weight": (d, s.mlp_dim),
                f"{b}.mlp.fc2.bias": (d,),
            }
        )
        if s.layer_scale:
            out[f"{b}.ls2.weight"] = (d,)
    out.update({"norm.weight": (d,), "norm.bias": (d,), "fc.weight": (arch.num_classes, d), "fc.bias": (arch.num_classes,)})
    if s.distilled:
        out.update({"fc_dist.weight": (arch.num_classes, d), "fc_dist.bias": (arch.num_classes,)})
    return out


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    block's attention output (``attn.proj``) and MLP output (``mlp.fc2``), each before the layer
    scale and the residual addition (Linear modules in every zoo's network; torchvision calls no
    module for its attention's projection: ``layouts.tap_modules``)."""
    return {f"blocks.{i}.{unit}": f"blocks.{i}.{unit}" for i in range(spec_of(arch).depth) for unit in ("attn.proj", "mlp.fc2")}


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(var + x.dtype.type(eps)) * weight + bias


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU, ``x * (1 + erf(x / sqrt(2))) / 2``."""
    from scipy.special import erf

    return x * (1 + erf(x / x.dtype.type(np.sqrt(2.0)))) * x.dtype.type(0.5)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def embed(spec: ViTSpec, params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The token sequence [N, tokens, dim] the first block reads: patches (a strided convolution
    of stride = kernel is one matmul per patch), class/distillation tokens, position embedding."""
    n, p, g = x.shape[0], spec.patch, x.shape[-1] // spec.patch
    patches = x.reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g * g, 3 * p * p)
    tokens = patches @ params["patch_embed.weight"].reshape(spec.dim, -1).T + params["patch_embed.bias"]
    prefix = [params["tokens.cls"]] + ([params["tokens.dist"]] if spec.distilled else [])
    prefix = [np.broadcast_to(t, (n, 1, spec.dim)) for t in prefix]
    if not spec.pos_embed_tokens:
        tokens = tokens + params["tokens.pos_embed"]
    tokens = np.concatenate([*prefix, tokens], axis=1)
    return tokens + params["tokens.pos_embed"] if spec.pos_embed_tokens else tokens


def attention(spec: ViTSpec, params: dict[str, np.ndarray], block: str, y: np.ndarray) -> np.ndarray:
    """Multi-head self-attention of the normalised tokens ``y`` [N, T, dim], its output projection
    included."""
    n, t, d = y.shape
    qkv = y @ params[f"{block}.attn.qkv.weight"].T
    if spec.qkv_bias:
        qkv = qkv + params[f"{block}.attn.qkv.bias"]
    q, k, v = qkv.reshape(n, t, 3, spec.heads, spec.head_dim).transpose(2, 0, 3, 1, 4)
    weights = softmax((q @ k.transpose(0, 1, 3, 2)) * y.dtype.type(spec.scale))
    context = (weights @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
    return context @ params[f"{block}.attn.proj.weight"].T + params[f"{block}.attn.proj.bias"]


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
    receives what each classifier reads (the class token's, then the distillation token's
    features) and ``taps`` each block's attention and MLP outputs by their ``layer_outputs`` names."""
    spec = spec_of(arch)
    if x.shape[-1] != spec.image_size or x.shape[-2] != spec.image_size:
        raise ValueError(f"{spec.id} computes on {spec.image_size}-pixel inputs, not {x.shape[-2]}x{x.shape[-1]}")
    w = {k: v.astype(dtype, copy=False) for k, v in params.items()}
    h = embed(spec, w, x.astype(dtype))
    for i in range(spec.depth):
        b = f"blocks.{i}"
        out = attention(spec, w, b, layer_norm(h, w[f"{b}.norm1.weight"], w[f"{b}.norm1.bias"], spec.ln_eps))
        if taps is not None:
            taps[f"{b}.attn.proj"] = out
        h = h + (out * w[f"{b}.ls1.weight"] if spec.layer_scale else out)
        norm = "norm2" if spec.ffn_norm == "own" else "norm1"
        y = gelu(
            layer_norm(h, w[f"{b}.{norm}.weight"], w[f"{b}.{norm}.bias"], spec.ln_eps) @ w[f"{b}.mlp.fc1.weight"].T + w[f"{b}.mlp.fc1.bias"]
        )
        out = y @ w[f"{b}.mlp.fc2.weight"].T + w[f"{b}.mlp.fc2.bias"]
        if taps is not None:
            taps[f"{b}.mlp.fc2"] = out
        h = h + (out * w[f"{b}.ls2.weight"] if spec.layer_scale else out)
    h = layer_norm(h, w["norm.weight"], w["norm.bias"], spec.ln_eps)
    heads = [("fc", h[:, 0])] + ([("fc_dist", h[:, 1])] if spec.distilled else [])
    if features is not None:
        features.extend(token for _, token in heads)
    logits = [token @ w[f"{fc}.weight"].T + w[f"{fc}.bias"] for fc, token in heads]
    return logits[0] if len(logits) == 1 else (logits[0] + logits[1]) / dtype(2)
