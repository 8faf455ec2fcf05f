"""The tiny family's canonical weights (``conv1``, ``bn1``, ``conv2``, ``bn2``, ``fc``) and its numpy
forward (the ResNet family's NHWC convolution)."""

from __future__ import annotations

import numpy as np

from zoocheck.families.resnet.canonical import BN_EPS, BN_FIELDS, conv2d

UNITS = (("conv1", "bn1", 1), ("conv2", "bn2", 2))  # (conv, its batch norm, stride)


def parameter_shapes(arch) -> dict[str, tuple[int, ...]]:
    width = arch.structure.width
    shapes: dict[str, tuple[int, ...]] = {}
    for (conv, norm, _), cin in zip(UNITS, (3, width)):
        shapes[f"{conv}.weight"] = (width, cin, 3, 3)
        shapes.update({f"{norm}.{field}": (width,) for field in BN_FIELDS})
    shapes.update({"fc.weight": (arch.num_classes, width), "fc.bias": (arch.num_classes,)})
    return shapes


def forward(arch, params, x, *, measure=None, features=None, dtype=np.float64) -> np.ndarray:
    y = np.ascontiguousarray(np.asarray(x).transpose(0, 2, 3, 1), dtype=dtype)
    for conv, norm, stride in UNITS:
        y = conv2d(y, params[f"{conv}.weight"], stride)
        if measure is not None:
            measure(norm, y)
        scale = params[f"{norm}.weight"] / np.sqrt(params[f"{norm}.running_var"].astype(np.float64) + BN_EPS)
        y = np.maximum(y * scale.astype(dtype) + (params[f"{norm}.bias"] - params[f"{norm}.running_mean"] * scale).astype(dtype), 0)
    pooled = y.mean(axis=(1, 2))
    if features is not None:
        features.append(pooled)
    return pooled @ params["fc.weight"].T.astype(dtype) + params["fc.bias"].astype(dtype)


def layer_outputs(arch) -> dict[str, str]:
    """Canonical graph tensor -> the batch norm folded into the convolution computing it."""
    return {conv: norm for conv, norm, _ in UNITS}
