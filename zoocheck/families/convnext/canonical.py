"""The canonical weights of a ConvNeXt (and ConvNeXt-V2): one naming for every source, their shapes,
and a numpy forward computing exactly the network the spec describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stem.conv`` (4x4/4, bias) + ``stem.norm`` (LayerNorm over channels);
- stage s (1..4), from the second on entered by ``stage{s}.downsample.norm`` (LayerNorm) and
  ``stage{s}.downsample.conv`` (2x2/2, bias);
- block i (0-based) of stage s: ``stage{s}.{i}.dw`` (7x7 depthwise, bias), ``stage{s}.{i}.norm``,
  ``stage{s}.{i}.fc1`` (Linear [4C, C]), GELU, V2's ``stage{s}.{i}.grn`` (``weight``, ``bias``
  [4C]), ``stage{s}.{i}.fc2`` (Linear [C, 4C]), V1's ``stage{s}.{i}.layer_scale.weight`` [C];
  the input added back;
- ``head.norm`` (LayerNorm of the pooled features), ``fc`` [classes, C].

LayerNorms ``weight`` / ``bias`` (epsilon ``spec.norm_eps``). Only the patchify stem, LayerNorm and
a head without hidden layer or norm before the pool are drawn (``require_drawn``: ValueError
naming the field otherwise). Pure numpy: no framework is imported here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from zoocheck.families.convnext.spec import GRN_EPS, MLP_RATIO, ConvNeXtSpec
from zoocheck.families.mobilenet_v2.canonical import depthwise_conv2d
from zoocheck.zoo_registry.types import Architecture

#: the depthwise kernel, the stem's patch and the downsampling convs' size
DW_KERNEL, STEM_PATCH, DOWNSAMPLE = 7, 4, 2


class Block(NamedTuple):
    prefix: str  # 'stage{s}.{i}'
    stage: int
    index: int
    channels: int


def require_drawn(spec: ConvNeXtSpec) -> None:
    """ValueError for a spec whose canonical form is not drawn yet, saying which field."""
    if spec.stem != "patch":
        raise ValueError(f"{spec.id}: no canonical form yet for timm's {spec.stem!r} stem")
    if spec.norm != "layernorm":
        raise ValueError(f"{spec.id}: no canonical form yet for the {spec.norm!r} norm")
    if spec.head_norm_first:
        raise ValueError(f"{spec.id}: no canonical form yet for a head norm before the pool")
    if spec.head_hidden:
        raise ValueError(f"{spec.id}: no canonical form yet for a hidden head layer ({spec.head_hidden})")


def blocks(spec: ConvNeXtSpec) -> list[Block]:
    """Every block, in order (ValueError where the spec is not drawn yet)."""
    require_drawn(spec)
    return [Block(f"stage{s}.{i}", s, i, c) for s, (depth, c) in enumerate(zip(spec.depths, spec.dims), start=1) for i in range(depth)]


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order (ValueError where the
    spec is not drawn yet: its weights are the library's own, randomised)."""
    spec: ConvNeXtSpec = arch.structure
    require_drawn(spec)
    dims = spec.dims
    shapes: dict[str, tuple[int, ...]] = {}

    def norm(name: str, c: int) -> None:
        shapes.update({f"{name}.weight": (c,), f"{name}.bias": (c,)})

    shapes.update({"stem.conv.weight": (dims[0], 3, STEM_PATCH, STEM_PATCH), "stem.conv.bias": (dims[0],)})
    norm("stem.norm", dims[0])
    for b in blocks(spec):
        c, hidden = b.channels, MLP_RATIO * b.channels
        if b.index == 0 and b.stage > 1:
            norm(f"stage{b.stage}.downsample.norm", dims[b.stage - 2])
            shapes.update(
                {
                    f"stage{b.stage}.downsample.conv.weight": (c, dims[b.stage - 2], DOWNSAMPLE, DOWNSAMPLE),
                    f"stage{b.stage}.downsample.conv.bias": (c,),
                }
            )
        shapes.update({f"{b.prefix}.dw.weight": (c, 1, DW_KERNEL, DW_KERNEL), f"{b.prefix}.dw.bias": (c,)})
        norm(f"{b.prefix}.norm", c)
        shapes.update({f"{b.prefix}.fc1.weight": (hidden, c), f"{b.prefix}.fc1.bias": (hidden,)})
        if spec.grn:
            norm(f"{b.prefix}.grn", hidden)
        shapes.update({f"{b.prefix}.fc2.weight": (c, hidden), f"{b.prefix}.fc2.bias": (c,)})
        if spec.layer_scale:
            shapes[f"{b.prefix}.layer_scale.weight"] = (c,)
    norm("head.norm", dims[-1])
    shapes.update({"fc.weight": (arch.num_classes, dims[-1]), "fc.bias": (arch.num_classes,)})
    return shapes


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: each
    block's ``fc2`` (the MLP's output before the layer scale, channels last in every zoo)."""
    return {f"{b.prefix}.fc2.add": f"{b.prefix}.fc2" for b in blocks(arch.structure)}


def layer_norm(y: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (channels last)."""
    mean = y.mean(axis=-1, keepdims=True)
    centred = y - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + y.dtype.type(eps)) * weight.astype(y.dtype) + bias.astype(y.dtype)


_erf64 = np.frompyfunc(math.erf, 1, 1)


def erf(x: np.ndarray) -> np.ndarray:
    """The error function: the C library's in float64 (the reference forward), Abramowitz & Stegun
    7.1.26 (absolute error 1.5e-7, float32's own resolution) in float32 (the calibration forwards,
    where one Python call per element would cost seconds)."""
    if x.dtype == np.float64:
        return _erf64(x).astype(np.float64)
    a = np.abs(x)
    t = 1 / (1 + np.float32(0.3275911) * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (np.sign(x) * (1 - poly * np.exp(-a * a))).astype(x.dtype)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``x * 0.5 * (1 + erf(x / sqrt(2)))``."""
    return x * x.dtype.type(0.5) * (1 + erf(x / x.dtype.type(math.sqrt(2))))


def grn(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Global response normalisation of NHWC ``x``: each channel's L2 norm over the map, divided by
    the mean over channels; ``x + weight * (x * nx) + bias``."""
    gx = np.sqrt((x * x).sum(axis=(1, 2), keepdims=True))
    nx = gx / (gx.mean(axis=-1, keepdims=True) + x.dtype.type(GRN_EPS))
    return x + weight.astype(x.dtype) * (x * nx) + bias.astype(x.dtype)


def patchify(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A k x k / k convolution (no padding; a last partial patch dropped, as torch) of NHWC ``x``
    as one matmul over the patches."""
    n, h, w, c = x.shape
    k = weight.shape[-1]
    ho, wo = h // k, w // k
    patches = x[:, : ho * k, : wo * k].reshape(n, ho, k, wo, k, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, ho, wo, k * k * c)
    kernel = weight.transpose(2, 3, 1, 0).reshape(k * k * c, -1).astype(x.dtype)
    return patches @ kernel + bias.astype(x.dtype)


def forward(
    arch: Architecture, params: dict[str, np.ndarray], x: np.ndarray, *, features: list | None = None, dtype: type = np.float64, **_hooks
) -> np.ndarray:
    """``arch``'s logits for NCHW ``x``, computed from canonical ``params`` in ``dtype`` (channels
    last); ``features`` gets the normalised pooled features ``fc`` sees. No batch norm: the
    ``measure`` hook of the other families' forwards has nothing to measure."""
    spec: ConvNeXtSpec = arch.structure
    p = params
    eps = spec.norm_eps

    def norm(name: str, y: np.ndarray) -> np.ndarray:
        return layer_norm(y, p[f"{name}.weight"], p[f"{name}.bias"], eps)

    def linear(name: str, y: np.ndarray) -> np.ndarray:
        return y @ p[f"{name}.weight"].T.astype(dtype) + p[f"{name}.bias"].astype(dtype)

    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    y = norm("stem.norm", patchify(y, p["stem.conv.weight"], p["stem.conv.bias"]))
    for b in blocks(spec):
        if b.index == 0 and b.stage > 1:
            down = f"stage{b.stage}.downsample"
            y = patchify(norm(f"{down}.norm", y), p[f"{down}.conv.weight"], p[f"{down}.conv.bias"])
        z = depthwise_conv2d(y, p[f"{b.prefix}.dw.weight"]) + p[f"{b.prefix}.dw.bias"].astype(dtype)
        z = gelu(linear(f"{b.prefix}.fc1", norm(f"{b.prefix}.norm", z)))
        if spec.grn:
            z = grn(z, p[f"{b.prefix}.grn.weight"], p[f"{b.prefix}.grn.bias"])
        z = linear(f"{b.prefix}.fc2", z)
        if spec.layer_scale:
            z = z * p[f"{b.prefix}.layer_scale.weight"].astype(dtype)
        y = y + z
    pooled = norm("head.norm", y.mean(axis=(1, 2)))
    if features is not None:
        features.append(pooled)
    return linear("fc", pooled)
