"""The VGG family's calibrated random weights: zoocheck's one scheme (``converters/weights/random.py``)
with the family's canonical parameters and numpy forward (no residual branch to scale down)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import calibrated
from zoocheck.families.vgg.canonical import forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size)
