"""The MobileNetV2 family's calibrated random weights: zoocheck's one scheme
(``converters/weights/random.py``) with the family's canonical parameters and numpy forward, and
``branch_gain`` on the projection batch norm of every block whose input is added back."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import calibrated
from zoocheck.families.mobilenet_v2.canonical import blocks, forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    residual = [f"{b.prefix}.project_bn" for b in blocks(arch.structure) if b.skip]
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size, residual)
