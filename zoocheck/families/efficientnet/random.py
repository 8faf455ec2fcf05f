"""The EfficientNet family's calibrated random weights: zoocheck's one scheme
(``converters/weights/random.py``) with the family's canonical parameters and numpy forward, and
``branch_gain`` on the ``project_bn`` of each block with a residual connection."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import branch_gain, calibrated
from zoocheck.families.efficientnet.canonical import blocks, forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    residual = [f"{b.prefix}.project_bn" for b in blocks(arch.structure) if b.residual]
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size, dict.fromkeys(residual, branch_gain(len(residual))))
