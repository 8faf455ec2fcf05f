"""The canonical weights of a DenseNet: one naming for every source, their shapes, and a numpy
forward computing exactly the network the ``DenseNetSpec`` describes.

Layers are named by their place (docs/architecture.md, "Names"):

- ``stem.conv{k}`` + ``stem.bn{k}`` (the 7x7 stem has k = 1, the deep stem 1..3), then the 3x3/2
  max-pool;
- dense layer ``i`` (0-based) of block ``b`` (1..4): ``block{b}.{i}.bn1`` (the pre-activation of
  the concatenated input), ``conv1`` (1x1, ``bn_size * growth`` wide), ``bn2``, ``conv2`` (3x3,
  ``growth`` wide: the features the layer adds);
- ``transition{b}.bn``, ``transition{b}.conv`` (1x1, halving the channels), then a 2x2/2 average
  pool (after blocks 1 to 3);
- ``head.bn`` (the final batch norm), ``fc`` [classes, features].

Convolutions have no bias; batch norms ``weight``, ``bias``, ``running_mean``, ``running_var``
(epsilon ``spec.bn_eps``). Pure numpy: no framework is imported here.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from zoocheck.families.densenet.spec import DenseNetSpec
from zoocheck.families.resnet.canonical import BN_FIELDS, BatchNormHook, batch_norm, conv2d, max_pool
from zoocheck.families.vgg.canonical import pool_2x2
from zoocheck.zoo_registry.types import Architecture


def stem_units(spec: DenseNetSpec) -> list[tuple[int, int, int, int, int]]:
    """(k, in, out, kernel, stride) of the stem's conv-BN units."""
    _require_plain_pool(spec)
    if spec.stem == "7x7":
        return [(1, 3, spec.init_features, 7, 2)]
    g = spec.growth_rate
    return [(1, 3, g, 3, 2), (2, g, g, 3, 1), (3, g, spec.init_features, 3, 1)]


def _require_plain_pool(spec: DenseNetSpec) -> None:
    if spec.blur_pool:
        raise ValueError(f"{spec.id}: no canonical form yet for the stem's blur pool")


def dense_layers(spec: DenseNetSpec) -> Iterator[tuple[int, int, int]]:
    """(block, index, in channels) of every dense layer, in order (blocks 1-based, layers 0-based)."""
    for block, cin in block_inputs(spec):
        for index in range(spec.blocks[block - 1]):
            yield block, index, cin + index * spec.growth_rate


def block_inputs(spec: DenseNetSpec) -> list[tuple[int, int]]:
    """(block, channels entering it) of the four blocks."""
    out, channels = [], spec.init_features
    for block, count in enumerate(spec.blocks, start=1):
        out.append((block, channels))
        channels = (channels + count * spec.growth_rate) // (2 if block < len(spec.blocks) else 1)
    return out


def block_outputs(spec: DenseNetSpec, block: int) -> int:
    """Channels leaving ``block`` (before its transition)."""
    return dict(block_inputs(spec))[block] + spec.blocks[block - 1] * spec.growth_rate


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order."""
    spec: DenseNetSpec = arch.structure
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(name: str, c: int) -> None:
        shapes.update({f"{name}.{f}": (c,) for f in BN_FIELDS})

    for k, cin, cout, kernel, _ in stem_units(spec):
        shapes[f"stem.conv{k}.weight"] = (cout, cin, kernel, kernel)
        bn(f"stem.bn{k}", cout)
    mid = spec.bn_size * spec.growth_rate
    for block, index, cin in dense_layers(spec):
        prefix = f"block{block}.{index}"
        bn(f"{prefix}.bn1", cin)
        shapes[f"{prefix}.conv1.weight"] = (mid, cin, 1, 1)
        bn(f"{prefix}.bn2", mid)
        shapes[f"{prefix}.conv2.weight"] = (spec.growth_rate, mid, 3, 3)
        if index == spec.blocks[block - 1] - 1 and block < len(spec.blocks):
            channels = block_outputs(spec, block)
            bn(f"transition{block}.bn", channels)
            shapes[f"transition{block}.conv.weight"] = (channels // 2, channels, 1, 1)
    features = block_outputs(spec, len(spec.blocks))
    bn("head.bn", features)
    shapes["fc.weight"] = (arch.num_classes, features)
    shapes["fc.bias"] = (arch.num_classes,)
    return shapes


def layer_outputs(arch: Architecture) -> dict[str, str]:
    """Canonical graph tensor -> the canonical module whose output it is, in network order: the
    stem's pool, each dense layer's ``conv2`` and each transition's ``conv`` and ``pool`` (modules no
    batch norm follows, so torchvision's and timm's networks, whose batch norms differ in whether
    they include the ReLU, both compute them)."""
    spec: DenseNetSpec = arch.structure
    out = {"stem.pool": "stem.pool"}
    for block, index, _ in dense_layers(spec):
        out[f"block{block}.{index}.conv2"] = f"block{block}.{index}.conv2"
        if index == spec.blocks[block - 1] - 1 and block < len(spec.blocks):
            out.update({f"transition{block}.{unit}": f"transition{block}.{unit}" for unit in ("conv", "pool")})
    return out


def forward(
    arch: Architecture,
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    measure: BatchNormHook | None = None,
    features: list | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """``arch``'s logits for NCHW ``x``, computed from canonical ``params`` in ``dtype``;
    ``measure`` and ``features`` as the ResNet family's forward takes them (before each batch norm,
    channels last; the pooled features ``fc`` sees)."""
    spec: DenseNetSpec = arch.structure
    p = params

    def bn_relu(name: str, y: np.ndarray) -> np.ndarray:
        return np.maximum(batch_norm(p, name, y, spec.bn_eps, dtype, measure), 0)

    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    for k, _, _, _, stride in stem_units(spec):
        y = bn_relu(f"stem.bn{k}", conv2d(y, p[f"stem.conv{k}.weight"], stride))
    y = max_pool(y)
    pieces = [y]
    for block, index, _ in dense_layers(spec):
        prefix = f"block{block}.{index}"
        z = bn_relu(f"{prefix}.bn2", conv2d(bn_relu(f"{prefix}.bn1", np.concatenate(pieces, axis=-1)), p[f"{prefix}.conv1.weight"]))
        pieces.append(conv2d(z, p[f"{prefix}.conv2.weight"]))
        if index == spec.blocks[block - 1] - 1 and block < len(spec.blocks):
            y = conv2d(bn_relu(f"transition{block}.bn", np.concatenate(pieces, axis=-1)), p[f"transition{block}.conv.weight"])
            pieces = [pool_2x2(y, np.mean)]
    pooled = bn_relu("head.bn", np.concatenate(pieces, axis=-1)).mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    return pooled @ p["fc.weight"].T.astype(dtype) + p["fc.bias"].astype(dtype)
