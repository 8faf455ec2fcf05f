"""The ConvNeXt families' random weights: zoocheck's scheme (``converters/weights/random.py``)
where a ConvNeXt has its parts, its own draws where it has no batch norm to measure.

LayerNorm normalises every block's input, so nothing needs measuring: convolution and Linear
weights N(0, 1 / fan_in) (each layer's output about unit scale), LayerNorm (and GRN) gamma
U(0.5, 1.5) and every bias and shift N(0, 0.1) (none zero: an exporter's simplifier drops an
addition of zeros, and a dropped bias would go unseen); V1's layer scale U(0.5, 1.5) times the
scheme's ``branch_gain`` (so each block matters, as trained ConvNeXts' layer scales of 0.1 to 1
make them), V2's ``fc2`` times that gain (it has no layer scale); then the scheme's classifier
step (``spread_heads``) on the pooled, normalised features."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import (
    BETA_STD,
    CLASSIFIER_STD,
    GAMMA_RANGE,
    branch_gain,
    spread_heads,
)
from zoocheck.families.convnext.canonical import blocks, forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    gain = branch_gain(len(blocks(arch.structure)))
    params: dict[str, np.ndarray] = {}
    for name, shape in parameter_shapes(arch).items():
        module, leaf = name.rsplit(".", 1)
        if name == "fc.weight":
            params[name] = rng.normal(0.0, CLASSIFIER_STD, shape)
        elif leaf == "weight" and len(shape) > 1:  # a convolution or Linear layer: [out, in, ...]
            fan_in = int(np.prod(shape[1:]))
            std = np.sqrt(1.0 / fan_in) * (gain if module.endswith(".fc2") and arch.structure.grn else 1.0)
            params[name] = rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
        elif leaf == "weight":  # LayerNorm / GRN gamma, layer scale
            params[name] = rng.uniform(*GAMMA_RANGE, shape) * (gain if module.endswith(".layer_scale") else 1.0)
        else:
            params[name] = rng.normal(0.0, BETA_STD, shape)
    spread_heads(arch, params, forward, seed, input_size, ("fc",))
    return {k: v.astype(np.float32) for k, v in params.items()}
