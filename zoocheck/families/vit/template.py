"""The canonical graph of a Vision Transformer (``ViTSpec``), built with the graph ``Builder``
(docs/architecture.md's conventions).

Layers: ``patch_embed`` (Conv p x p / p) + ``patch_embed.reshape`` ([-1, dim, patches]) and
``patch_embed.transpose`` (tokens [N, patches, dim]); the class (and distillation) tokens and the
position embedding as one constant table: ``tokens.pad`` (Pad: zero tokens in front) +
``tokens.add`` (``tokens.embed`` [1, tokens, dim]: the position embedding with the class/distillation
tokens added to their rows; DeiT-III adds ``tokens.pos_embed`` to the patches first,
``tokens.pos_add``, and its ``tokens.embed`` holds the class token in row 0 and zeros), which is
what ``Concat(Expand(cls), x) + pos`` computes, bit for bit, without the batch size's Shape chain;
per block ``blocks.{i}.norm1`` (LayerNormalization), the attention in the one form timm's and
mmpretrain's ``scaled_dot_product_attention`` export to: ``attn.qkv`` (MatMul by the fused
[dim, 3 dim] weight + bias), ``attn.reshape`` ([-1, T, 3, heads, head_dim]), ``attn.transpose``
([2, 0, 3, 1, 4]), ``attn.split`` into ``.q``, ``.k``, ``.v``, ``attn.k.transpose``, ``attn.q.scale``
and ``attn.k.scale`` (each times sqrt(scale), ``attention.sqrt_scale``), ``attn.logits``,
``attn.softmax``, ``attn.context``, ``attn.context.transpose``, ``attn.context.reshape``,
``attn.proj``; ``ls1`` (Mul, layer scale), ``add1``; ``norm2``, ``mlp.fc1``, ``mlp.gelu`` (the
Erf chain), ``mlp.fc2``, ``ls2``, ``add2``; then ``norm``, ``head.cls`` (Gather of token 0) and
``fc`` (Gemm), or for DeiT's distillation ``head.dist`` (token 1), ``fc_dist``, ``head.sum`` and
``head.mean`` (Mul by 0.5: paddle2onnx's form; torch.onnx's Div by 2 is rewritten to it, the same
number). A Linear layer on tokens is MatMul([in, out]) + Add.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import SPLIT_INPUTS_OPSET
from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME, OUTPUT_NAME
from zoocheck.families.vit.canonical import token_count
from zoocheck.families.vit.spec import ViTSpec


def build_template(spec: ViTSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data;
    NoCanonicalForm below opset 13 (Split's sizes and Squeeze's axes are inputs from 13 on; timm's
    and mmpretrain's attention exports from 14)."""
    if opset < SPLIT_INPUTS_OPSET:
        raise NoCanonicalForm(f"{spec.id}: the ViT canonical graph is written at opset {SPLIT_INPUTS_OPSET} or later, not {opset}")
    b = Builder(opset)
    d, t, patches = spec.dim, token_count(spec), spec.grid**2
    x = b.conv("patch_embed", INPUT_NAME, 3, d, spec.patch, spec.patch, pads=(0, 0, 0, 0))
    x = b.transpose("patch_embed.transpose", b.reshape("patch_embed.reshape", x, [-1, d, patches]), [0, 2, 1])
    if not spec.pos_embed_tokens:
        x = b.add("tokens.pos_add", x, b.constant_tensor("tokens.pos_embed", (1, patches, d)))
    x = b.add("tokens.add", b.pad_front("tokens.pad", x, spec.prefix_tokens), b.constant_tensor("tokens.embed", (1, t, d)))
    sqrt_scale = float(np.float32(np.sqrt(spec.scale)))
    for i in range(spec.depth):
        p = f"blocks.{i}"
        y = b.layer_norm(f"{p}.norm1", x, d, spec.ln_eps)
        y = b.token_linear(f"{p}.attn.qkv", y, d, 3 * d, bias=spec.qkv_bias)
        y = b.transpose(f"{p}.attn.transpose", b.reshape(f"{p}.attn.reshape", y, [-1, t, 3, spec.heads, spec.head_dim]), [2, 0, 3, 1, 4])
        q, k, v = b.split(f"{p}.attn.split", y, ["q", "k", "v"])
        q = b.scale(f"{p}.attn.q.scale", q, sqrt_scale)
        k = b.scale(f"{p}.attn.k.scale", b.transpose(f"{p}.attn.k.transpose", k, [0, 1, 3, 2]), sqrt_scale)
        y = b.softmax(f"{p}.attn.softmax", b.matmul(f"{p}.attn.logits", q, k))
        y = b.transpose(f"{p}.attn.context.transpose", b.matmul(f"{p}.attn.context", y, v), [0, 2, 1, 3])
        y = b.token_linear(f"{p}.attn.proj", b.reshape(f"{p}.attn.context.reshape", y, [-1, t, d]), d, d)
        if spec.layer_scale:
            y = b.mul(f"{p}.ls1", y, b.constant_tensor(f"{p}.ls1.weight", (d,)))
        x = b.add(f"{p}.add1", x, y)
        norm = f"{p}.norm2" if spec.ffn_norm == "own" else f"{p}.norm1"
        y = b.layer_norm(f"{p}.norm2", x, d, spec.ln_eps, params=norm)
        y = b.gelu(f"{p}.mlp.gelu", b.token_linear(f"{p}.mlp.fc1", y, d, spec.mlp_dim))
        y = b.token_linear(f"{p}.mlp.fc2", y, spec.mlp_dim, d)
        if spec.layer_scale:
            y = b.mul(f"{p}.ls2", y, b.constant_tensor(f"{p}.ls2.weight", (d,)))
        x = b.add(f"{p}.add2", x, y)
    x = b.layer_norm("norm", x, d, spec.ln_eps)
    if not spec.distilled:
        b.linear("fc", b.gather("head.cls", x, 0, axis=1), d, num_classes, OUTPUT_NAME)
    else:
        both = b.add(
            "head.sum",
            b.linear("fc", b.gather("head.cls", x, 0, axis=1), d, num_classes),
            b.linear("fc_dist", b.gather("head.dist", x, 1, axis=1), d, num_classes),
        )
        b.scale("head.mean", both, 0.5, OUTPUT_NAME)
    return b.model(graph_name, num_classes)
