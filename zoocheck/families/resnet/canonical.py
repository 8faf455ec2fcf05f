"""The canonical weights of a ResNet-family architecture: one documented naming, its shapes, and a
numpy forward that computes exactly the network the ResNetSpec describes.

Canonical names are timm's (= torchvision's) state-dict keys, extended to what timm's ResNet class
does not build:

- stem: ``conv1`` + ``bn1`` (7x7), or the deep stems' ``conv1.0``, ``conv1.1`` (BN), ``conv1.3``,
  ``conv1.4`` (BN), ``conv1.6`` + ``bn1``;
- block ``i`` of stage ``s``: ``layer{s+1}.{i}.conv1`` / ``bn1``, ``conv2`` / ``bn2``
  [, ``conv3`` / ``bn3``]; its projection shortcut ``downsample.0`` (conv) + ``downsample.1`` (BN),
  or with the 'd' shortcut ``downsample.1`` + ``downsample.2`` (after its avg-pool, which is the
  identity at stride 1);
- MXNet's v1 bottleneck: ``conv1.bias`` and ``conv3.bias`` besides; v2 (pre-activation): ``bn1``
  of a block is the BN before ``conv1`` (``bn2`` before conv2 ...), ``bn_data`` the un-learned BN
  on the input (running statistics only), ``bn_final`` the BN before the pooling;
- BN: ``weight``, ``bias``, ``running_mean``, ``running_var`` (epsilon 1e-5); classifier ``fc.weight``
  [classes, features], ``fc.bias``.

Pure numpy: no framework is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from zoocheck.families.resnet.spec import STEM_CHANNELS, ResNetSpec, resnet_spec
from zoocheck.zoo_registry.types import Architecture

BN_EPS = 1e-5
BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


def stem_units(spec: ResNetSpec) -> list[tuple[str, str, int, int, int, int]]:
    """(conv name, BN name, in, out, kernel, stride) of the stem's conv-BN units."""
    if spec.stem == "7x7":
        return [("conv1", "bn1", 3, 64, 7, 2)]
    a, b, c = STEM_CHANNELS[spec.stem]
    return [("conv1.0", "conv1.1", 3, a, 3, 2), ("conv1.3", "conv1.4", a, b, 3, 1), ("conv1.6", "bn1", b, c, 3, 1)]


def blocks(spec: ResNetSpec) -> Iterator[tuple[int, int, str, int, int]]:
    """(stage, index, name prefix, in channels, stride) of every block, in order."""
    cin = spec.stem_channels
    for stage, count in enumerate(spec.layers):
        for index in range(count):
            yield stage, index, f"layer{stage + 1}.{index}", cin, spec.stride(stage, index)
            cin = spec.out_channels(stage)


def branch_units(spec: ResNetSpec, stage: int, cin: int, stride: int) -> list[tuple[str, int, int, int, int, int]]:
    """(unit number, in, out, kernel, stride, groups) of a block's residual branch."""
    mid, cout = spec.mid_channels(stage), spec.out_channels(stage)
    if spec.block == "basic":
        return [("1", cin, mid, 3, stride, 1), ("2", mid, cout, 3, 1, 1)]
    first_stride, mid_stride = (stride, 1) if spec.stride_on == "1x1" and not spec.preact else (1, stride)
    return [("1", cin, mid, 1, first_stride, 1), ("2", mid, mid, 3, mid_stride, spec.groups), ("3", mid, cout, 1, 1, 1)]


def shortcut_names(spec: ResNetSpec) -> tuple[str, str]:
    """(conv, BN) under ``downsample`` of a projecting block (BN '' for v2, which has none); the 'd'
    shortcut's are ``.1`` / ``.2`` after its pool even where the pool is the identity (stride 1), as
    in timm and GluonCV."""
    if spec.preact:
        return "downsample.0", ""
    if spec.shortcut == "avgpool_conv":
        return "downsample.1", "downsample.2"
    return "downsample.0", "downsample.1"


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor (``template.py``) -> the canonical module whose output it is, in
    network order: how a framework's per-layer outputs are found in the graph
    (``NativeModel.layer_outputs``).

    v1: every conv-BN unit's batch norm, which the canonical graph folds into the convolution
    before it, so ``layer1.0.conv2`` computes what ``layer1.0.bn2`` outputs. v2 (pre-activation):
    the batch norm inside a branch follows a convolution too and is folded the same way
    (``layer1.0.conv1`` computes what ``layer1.0.bn2`` outputs); the branch's last convolution and
    the shortcut's are their own modules (``layer1.0.conv2``, ``layer1.0.downsample.conv`` =
    ``downsample.0``); a batch norm that follows no convolution stays a ``Mul`` + ``Add`` whose sum
    is its output (``layer1.0.bn1.add`` is ``layer1.0.bn1``'s, the input's ``stem.bn0.add`` is
    ``bn_data``'s, ``head.bn.add`` is ``bn_final``'s)."""
    spec = _spec(arch)
    out = {"stem.bn0.add": "bn_data"} if spec.preact else {}
    out.update({f"stem.conv{k}": norm for k, (_, norm, *_) in enumerate(stem_units(spec), start=1)})
    for stage, index, prefix, cin, stride in blocks(spec):
        units = [unit for unit, *_ in branch_units(spec, stage, cin, stride)]
        if spec.preact:
            out[f"{prefix}.bn1.add"] = f"{prefix}.bn1"
            out.update({f"{prefix}.conv{unit}": f"{prefix}.bn{after}" for unit, after in zip(units, units[1:])})
            out[f"{prefix}.conv{units[-1]}"] = f"{prefix}.conv{units[-1]}"
        else:
            out.update({f"{prefix}.conv{unit}": f"{prefix}.bn{unit}" for unit in units})
        if spec.projects(stage, index):
            conv, norm = shortcut_names(spec)
            out[f"{prefix}.downsample.conv"] = f"{prefix}.{norm or conv}"
    if spec.preact:
        out["head.bn.add"] = "bn_final"
    return out


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    spec = _spec(arch)
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(name: str, c: int) -> None:
        shapes.update({f"{name}.{f}": (c,) for f in BN_FIELDS})

    if spec.preact:
        shapes.update({"bn_data.running_mean": (3,), "bn_data.running_var": (3,)})
    for conv, norm, cin, cout, k, _ in stem_units(spec):
        shapes[f"{conv}.weight"] = (cout, cin, k, k)
        bn(norm, cout)
    for stage, index, prefix, cin, stride in blocks(spec):
        for unit, ci, co, k, _, groups in branch_units(spec, stage, cin, stride):
            if spec.preact:
                bn(f"{prefix}.bn{unit}", ci)
            shapes[f"{prefix}.conv{unit}.weight"] = (co, ci // groups, k, k)
            if spec.stride_on == "1x1" and spec.block == "bottleneck" and unit in ("1", "3"):
                shapes[f"{prefix}.conv{unit}.bias"] = (co,)
            if not spec.preact:
                bn(f"{prefix}.bn{unit}", co)
        if spec.projects(stage, index):
            conv, norm = shortcut_names(spec)
            shapes[f"{prefix}.{conv}.weight"] = (spec.out_channels(stage), cin, 1, 1)
            if norm:
                bn(f"{prefix}.{norm}", spec.out_channels(stage))
    if spec.preact:
        bn("bn_final", spec.feature_channels)
    shapes["fc.weight"] = (arch.num_classes, spec.feature_channels)
    shapes["fc.bias"] = (arch.num_classes,)
    return shapes


def _spec(arch: Architecture) -> ResNetSpec:
    spec = resnet_spec(arch)
    if spec is None:
        raise ValueError(f"{arch.id} has no ResNetSpec: no canonical weights")
    return spec


# --- the numpy forward --------------------------------------------------------------------------
# Channels-last (NHWC) inside: a convolution is then a sum over its k*k taps of one matmul each
# ([N*H*W, C] @ [C, out]), with no im2col copy k*k times the input's size. A convolution of few
# input channels (the stem's 3) is one matmul over its im2col columns instead: k*k matmuls with
# K = 3 are all overhead, and with at most IM2COL_MAX_COLUMNS columns the copy is smaller than a
# 64-channel output.
IM2COL_MAX_COLUMNS = 256


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    stride: int = 1,
    groups: int = 1,
    bias: np.ndarray | None = None,
    pads: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """NHWC convolution; ``w`` is [out, in/groups, k, k]; ``pads`` (top, left, bottom, right), by
    default k // 2 on every side (every conv of the family)."""
    n, h, width, _ = x.shape
    co, cg, k, _ = w.shape
    top, left, bottom, right = pads if pads is not None else (k // 2,) * 4
    ho, wo = (h + top + bottom - k) // stride + 1, (width + left + right - k) // stride + 1
    xp = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))) if any((top, left, bottom, right)) else x
    # [k, k, groups, in/groups, out/groups], contiguous: numpy hands only such operands to BLAS
    taps_w = np.ascontiguousarray(w.reshape(groups, co // groups, cg, k, k).transpose(3, 4, 0, 2, 1), dtype=x.dtype)

    def tap(i: int, j: int) -> np.ndarray:  # the input each output pixel sees through kernel tap (i, j)
        return xp[:, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride, :]

    if cg == 1 and groups == co > 1:  # depthwise: per-channel products, no matmul
        out = np.zeros((n, ho, wo, co), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                out += tap(i, j) * taps_w[i, j, :, 0, 0]
        return out + bias.astype(x.dtype) if bias is not None else out
    if groups == 1 and k > 1 and k * k * cg <= IM2COL_MAX_COLUMNS:
        columns = np.empty((n, ho, wo, k, k, cg), dtype=x.dtype)
        for i in range(k):
            for j in range(k):
                columns[:, :, :, i, j] = tap(i, j)
        out = columns.reshape(n * ho * wo, k * k * cg) @ taps_w.reshape(k * k * cg, co)
    else:
        out = None
        for i in range(k):
            for j in range(k):
                flat = tap(i, j).reshape(n * ho * wo, groups * cg)
                if groups == 1:
                    term = flat @ taps_w[i, j, 0]
                else:  # [groups, N*H*W, in/groups] @ [groups, in/groups, out/groups]
                    term = np.matmul(flat.reshape(-1, groups, cg).transpose(1, 0, 2), taps_w[i, j])
                out = term if out is None else np.add(out, term, out=out)
    if groups > 1:
        out = out.transpose(1, 0, 2)
    out = out.reshape(n, ho, wo, co)
    return out + bias.astype(x.dtype) if bias is not None else out


def max_pool(x: np.ndarray) -> np.ndarray:
    """3x3, stride 2, padding 1 (the stem's), NHWC."""
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    ho, wo = (h - 1) // 2 + 1, (w - 1) // 2 + 1
    out = xp[:, 0 : 2 * ho - 1 : 2, 0 : 2 * wo - 1 : 2]
    for i in range(3):
        for j in range(3):
            if i or j:
                out = np.maximum(out, xp[:, i : i + 2 * ho - 1 : 2, j : j + 2 * wo - 1 : 2])
    return out


def avg_pool_2x2(x: np.ndarray) -> np.ndarray:
    """2x2, stride 2, ceil mode, padding excluded from the average (the 'd' shortcut), NHWC."""
    n, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    ones = np.pad(np.ones((h, w), x.dtype), ((0, h % 2), (0, w % 2)))
    s = xp.reshape(n, xp.shape[1] // 2, 2, xp.shape[2] // 2, 2, c).sum(axis=(2, 4))
    return s / ones.reshape(ones.shape[0] // 2, 2, ones.shape[1] // 2, 2).sum(axis=(1, 3))[None, :, :, None]


BatchNormHook = Callable[[str, np.ndarray], None]


def batch_norm(
    params: dict[str, np.ndarray], name: str, y: np.ndarray, eps: float, dtype: type, measure: BatchNormHook | None
) -> np.ndarray:
    """Inference batch norm ``name`` of NHWC ``y`` (``measure`` called first with its input), as the
    other families' numpy forwards compute it (this family's own, in ``dtype``, has a non-affine form)."""
    if measure is not None:
        measure(name, y)
    scale = params[f"{name}.weight"].astype(np.float64) / np.sqrt(params[f"{name}.running_var"].astype(np.float64) + eps)
    return y * scale.astype(dtype) + (params[f"{name}.bias"] - params[f"{name}.running_mean"] * scale).astype(dtype)


def forward(
    arch: Architecture,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    measure: BatchNormHook | None = None,
    features: list | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``arch``'s logits for NCHW ``x``, computed from canonical ``params`` in ``dtype`` (float64
    by default: the reference; random weights calibrate in float32).

    ``measure(name, activations)`` is called before each BN (in network order) with the BN's input,
    channels last (``[N, H, W, C]``), and may set that BN's running statistics in ``params`` first:
    how random weights measure them. ``features`` receives the pooled features the classifier sees."""
    spec = _spec(arch)
    p = params

    def bn(name: str, y: np.ndarray, affine: bool = True) -> np.ndarray:
        if measure is not None:
            measure(name, y)
        scale = (1.0 / np.sqrt(p[f"{name}.running_var"].astype(np.float64) + BN_EPS)).astype(dtype)
        shift = -p[f"{name}.running_mean"].astype(dtype) * scale
        if affine:
            scale, shift = (
                scale * p[f"{name}.weight"].astype(dtype),
                shift * p[f"{name}.weight"].astype(dtype) + p[f"{name}.bias"].astype(dtype),
            )
        out = y * scale
        out += shift
        return out

    relu = lambda y: np.maximum(y, 0, out=y)  # noqa: E731  (in place: every input is a fresh array)
    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    if spec.preact:
        y = bn("bn_data", y, affine=False)
    for conv, norm, _, _, _, stride in stem_units(spec):
        y = relu(bn(norm, conv2d(y, p[f"{conv}.weight"], stride)))
    y = max_pool(y)
    for stage, index, prefix, cin, stride in blocks(spec):
        units = branch_units(spec, stage, cin, stride)
        if spec.preact:
            pre = relu(bn(f"{prefix}.bn1", y))
            shortcut = conv2d(pre, p[f"{prefix}.downsample.0.weight"], stride) if spec.projects(stage, index) else y
            z = pre
            for k, (unit, _, _, _, s, groups) in enumerate(units):
                if k:
                    z = relu(bn(f"{prefix}.bn{unit}", z))
                z = conv2d(z, p[f"{prefix}.conv{unit}.weight"], s, groups)
            y = z + shortcut
            continue
        z = y
        for k, (unit, _, _, _, s, groups) in enumerate(units):
            z = conv2d(z, p[f"{prefix}.conv{unit}.weight"], s, groups, p.get(f"{prefix}.conv{unit}.bias"))
            z = bn(f"{prefix}.bn{unit}", z)
            if k < len(units) - 1:
                z = relu(z)
        shortcut = y
        if spec.projects(stage, index):
            conv, norm = shortcut_names(spec)
            if spec.shortcut == "avgpool_conv" and stride != 1:
                shortcut = conv2d(avg_pool_2x2(y), p[f"{prefix}.{conv}.weight"])
            else:
                shortcut = conv2d(y, p[f"{prefix}.{conv}.weight"], stride)
            shortcut = bn(f"{prefix}.{norm}", shortcut)
        y = relu(z + shortcut)
    if spec.preact:
        y = relu(bn("bn_final", y))
    pooled = y.mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    return pooled @ p["fc.weight"].T.astype(dtype) + p["fc.bias"].astype(dtype)
