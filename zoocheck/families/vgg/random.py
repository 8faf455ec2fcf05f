"""The VGG family's calibrated random weights: zoocheck's one scheme (``converters/weights/random.py``)
with the family's canonical parameters and numpy forward (no residual branch to scale down)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import calibrated
from zoocheck.families.vgg.canonical import check_input_size, forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    """The calibrated weights; at an input size the classifier cannot read, refused before 133M
    or more weights are drawn."""
    check_input_size(arch, input_size)
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size)
