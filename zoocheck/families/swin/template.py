"""The canonical graph of a Swin Transformer (V1 and V2), built from its ``SwinSpec``: torch.onnx's
export of torchvision's network, simplified, in one form (``converters/graph/rewrites/windows.py``'s Swin
section brings torchvision's and timm's exports to it).

The map is NHWC after the patch embedding (Conv, ``patch_embed.transpose`` to [N, H, W, C],
``patch_embed.norm``). A block's window attention, on the map [N, H, W, C]:

- the cyclic shift (odd blocks where the window is smaller than the map, ``SwinSpec.shift``) as torch.onnx writes
  ``torch.roll``: per axis (rows, then columns) ``Concat(Slice(x, s:), Slice(x, :s))`` (nodes
  ``<attn>.shift.{1,2}``), undone after the attention with ``Slice(x, -s:)`` first;
- the window partition ``Reshape [-1, H/w, w, W/w, w, C]``, ``Transpose [0, 1, 3, 2, 4, 5]``,
  ``Reshape [-1, w * w, C]`` (windows row by row; one ``Reshape`` where one window covers the map),
  and its reverse after the attention;
- attention in the ViT family's form (``families/vit/template.py``: fused q/k/v MatMul + Add,
  Reshape, Transpose, Split and Squeeze; V1 q and k^T each times sqrt(scale)), then the relative
  position bias added as one constant ``<attn>.position_bias`` [1, heads, N, N] (V1: the table
  gathered; V2: the continuous position-bias MLP evaluated, ``16 * sigmoid``), and in shifted
  blocks the mask ``<attn>.mask`` [1, windows, 1, N, N] added between ``Reshape [-1, windows,
  heads, N, N]`` and ``Reshape [-1, heads, N, N]``; V2's cosine attention normalises q and k
  (``ReduceL2`` over the last axis, ``Clip`` at 1e-12, ``Div``) and multiplies the logits by
  ``<attn>.logit_scale`` [heads, 1, 1] (``exp(min(scale, log 100))`` evaluated), no sqrt(scale).

Patch merging: ``Reshape [-1, H/2, 2, W/2, 2, C]``, ``Transpose [0, 1, 3, 4, 2, 5]``, ``Reshape
[-1, H/2, W/2, 4 C]`` (the channels of the offsets (0, 0), (1, 0), (0, 1), (1, 1), canonical.py's
order), then V1 ``norm`` and ``reduction`` (MatMul [4 C, 2 C], no bias), V2 ``reduction`` then
``norm``. A Linear layer on the map is MatMul([in, out]) + Add. The head: the final LayerNorm,
``head.transpose`` to NCHW, ``GlobalAveragePool``, ``Flatten``, ``fc`` (Gemm).
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.graph.rewrites.onnx_graph import CLIP_INPUTS_OPSET, REDUCE_AXES_INPUTS_OPSET, SPLIT_INPUTS_OPSET
from zoocheck.converters.graph.rewrites.windows import NORMALIZE_EPS, ROLL_END
from zoocheck.converters.graph.template import Builder, NoCanonicalForm
from zoocheck.converters.normalize import INPUT_NAME
from zoocheck.families.swin.spec import SwinSpec


def _roll(b: Builder, name: str, x: str, shift: int) -> str:
    """``torch.roll(x, (shift, shift), (1, 2))`` as torch.onnx writes it: per axis
    ``Concat(x[-shift:], x[:-shift])``."""
    for axis in (1, 2):
        axes = b.int_constant(f"roll.axes.{axis}", [axis])
        tail = b._node(
            "Slice",
            f"{name}.{axis}.tail",
            [x, b.int_constant(f"{name}.{axis}.tail.starts", [-shift]), b.int_constant("roll.end", [ROLL_END]), axes],
        )
        head = b._node(
            "Slice",
            f"{name}.{axis}.head",
            [x, b.int_constant("roll.start", [0]), b.int_constant(f"{name}.{axis}.head.ends", [-shift]), axes],
        )
        x = b._node("Concat", f"{name}.{axis}", [tail, head], axis=axis)
    return x


def _windows(b: Builder, name: str, x: str, side: int, window: int, channels: int) -> str:
    """[N, side, side, C] -> [N * windows, window * window, C]."""
    if window == side:
        return b.reshape(name, x, [-1, window * window, channels])
    count = side // window
    x = b.reshape(f"{name}.split", x, [-1, count, window, count, window, channels])
    return b.reshape(name, b.transpose(f"{name}.transpose", x, [0, 1, 3, 2, 4, 5]), [-1, window * window, channels])


def _unwindows(b: Builder, name: str, x: str, side: int, window: int, channels: int) -> str:
    if window == side:
        return b.reshape(name, x, [-1, side, side, channels])
    count = side // window
    x = b.reshape(f"{name}.split", x, [-1, count, count, window, window, channels])
    return b.reshape(name, b.transpose(f"{name}.transpose", x, [0, 1, 3, 2, 4, 5]), [-1, side, side, channels])


def _unit_norm(b: Builder, name: str, x: str) -> str:
    """``F.normalize(x, dim=-1)``: x / max(||x||, eps)."""
    if b.opset >= REDUCE_AXES_INPUTS_OPSET:
        norm = b._node("ReduceL2", f"{name}.l2", [x, b.int_constant("normalize.axes", [-1])], keepdims=1)
    else:
        norm = b._node("ReduceL2", f"{name}.l2", [x], axes=[-1], keepdims=1)
    eps = float(np.float32(NORMALIZE_EPS))
    if b.opset >= CLIP_INPUTS_OPSET:
        clipped = b._node("Clip", f"{name}.clip", [norm, b._constant("normalize.eps", eps)])
    else:
        clipped = b._node("Clip", f"{name}.clip", [norm], min=eps)
    return b._node("Div", name, [x, clipped])


def _attention(b: Builder, spec: SwinSpec, p: str, x: str, stage: int, index: int) -> str:
    """The (shifted) window attention of the map ``x`` [N, H, W, C], windows put back."""
    c, heads, window, shift = spec.width(stage), spec.heads[stage], spec.stage_window(stage), spec.shift(stage, index)
    side, n, d = spec.resolution(stage), spec.stage_window(stage) ** 2, spec.width(stage) // spec.heads[stage]
    a = f"{p}.attn"
    if shift:
        x = _roll(b, f"{a}.shift", x, -shift)
    y = b.token_linear(f"{a}.qkv", _windows(b, f"{a}.windows", x, side, window, c), c, 3 * c)
    y = b.transpose(f"{a}.transpose", b.reshape(f"{a}.reshape", y, [-1, n, 3, heads, d]), [2, 0, 3, 1, 4])
    q, k, v = b.split(f"{a}.split", y, ["q", "k", "v"])
    if spec.v2:
        q, k = _unit_norm(b, f"{a}.q.normalize", q), _unit_norm(b, f"{a}.k.normalize", k)
        y = b.mul(
            f"{a}.logits.scale",
            b.matmul(f"{a}.logits", q, b.transpose(f"{a}.k.transpose", k, [0, 1, 3, 2])),
            b.constant_tensor(f"{a}.logit_scale", (heads, 1, 1)),
        )
    else:
        sqrt_scale = float(np.float32(np.sqrt(float(np.float32(d**-0.5)))))
        q = b.scale(f"{a}.q.scale", q, sqrt_scale)
        k = b.scale(f"{a}.k.scale", b.transpose(f"{a}.k.transpose", k, [0, 1, 3, 2]), sqrt_scale)
        y = b.matmul(f"{a}.logits", q, k)
    y = b.add(f"{a}.bias", y, b.constant_tensor(f"{a}.position_bias", (1, heads, n, n)))
    if shift:
        count = (side // window) ** 2
        y = b.add(
            f"{a}.mask",
            b.reshape(f"{a}.mask.split", y, [-1, count, heads, n, n]),
            b.constant_tensor(f"{a}.mask.value", (1, count, 1, n, n)),
        )
        y = b.reshape(f"{a}.mask.merge", y, [-1, heads, n, n])
    y = b.transpose(f"{a}.context.transpose", b.matmul(f"{a}.context", b.softmax(f"{a}.softmax", y), v), [0, 2, 1, 3])
    y = b.token_linear(f"{a}.proj", b.reshape(f"{a}.context.reshape", y, [-1, n, c]), c, c)
    y = _unwindows(b, f"{a}.unwindows", y, side, window, c)
    return _roll(b, f"{a}.unshift", y, shift) if shift else y


def _patch_merging(b: Builder, spec: SwinSpec, stage: int, x: str) -> str:
    m, c, half = f"stages.{stage}.downsample", spec.width(stage - 1), spec.resolution(stage)
    x = b.reshape(f"{m}.split", x, [-1, half, 2, half, 2, c])
    x = b.reshape(f"{m}.merge", b.transpose(f"{m}.transpose", x, [0, 1, 3, 4, 2, 5]), [-1, half, half, 4 * c])
    if spec.v2:
        return b.layer_norm(f"{m}.norm", b.token_linear(f"{m}.reduction", x, 4 * c, 2 * c, bias=False), 2 * c, spec.ln_eps)
    return b.token_linear(f"{m}.reduction", b.layer_norm(f"{m}.norm", x, 4 * c, spec.ln_eps), 4 * c, 2 * c, bias=False)


def _mlp(b: Builder, p: str, x: str, c: int) -> str:
    return b.token_linear(f"{p}.mlp.fc2", b.gelu(f"{p}.mlp.gelu", b.token_linear(f"{p}.mlp.fc1", x, c, 4 * c)), 4 * c, c)


def build_template(spec: SwinSpec, num_classes: int, *, opset: int, graph_name: str):
    """The canonical ModelProto of ``spec``, initializers declared (name, dtype, shape) without data;
    NoCanonicalForm below opset 13 (the attention's Split sizes and Squeeze axes are inputs)."""
    if opset < SPLIT_INPUTS_OPSET:
        raise NoCanonicalForm(f"{spec.id}: the Swin canonical graph is written at opset {SPLIT_INPUTS_OPSET} or later, not {opset}")
    b = Builder(opset)
    x = b.conv("patch_embed", INPUT_NAME, 3, spec.dim, spec.patch, spec.patch, pads=(0, 0, 0, 0))
    x = b.layer_norm("patch_embed.norm", b.transpose("patch_embed.transpose", x, [0, 2, 3, 1]), spec.dim, spec.ln_eps)
    for stage, depth in enumerate(spec.depths):
        c = spec.width(stage)
        if stage:
            x = _patch_merging(b, spec, stage, x)
        for i in range(depth):
            p = f"stages.{stage}.blocks.{i}"
            if spec.v2:
                x = b.add(f"{p}.add1", x, b.layer_norm(f"{p}.norm1", _attention(b, spec, p, x, stage, i), c, spec.ln_eps))
                x = b.add(f"{p}.add2", x, b.layer_norm(f"{p}.norm2", _mlp(b, p, x, c), c, spec.ln_eps))
            else:
                x = b.add(f"{p}.add1", x, _attention(b, spec, p, b.layer_norm(f"{p}.norm1", x, c, spec.ln_eps), stage, i))
                x = b.add(f"{p}.add2", x, _mlp(b, p, b.layer_norm(f"{p}.norm2", x, c, spec.ln_eps), c))
    x = b.transpose("head.transpose", b.layer_norm("norm", x, spec.features, spec.ln_eps), [0, 3, 1, 2])
    b.head(x, spec.features, num_classes)
    return b.model(graph_name, num_classes)
