"""The EfficientNetV2 family's calibrated random weights: EfficientNet's (``draw_skeleton``) with
the family's skeleton, canonical parameters and numpy forward."""

from __future__ import annotations

import numpy as np

from zoocheck.families.efficientnet.random import draw_skeleton
from zoocheck.families.efficientnet_v2.canonical import forward, parameter_shapes, skeleton
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    return draw_skeleton(arch, skeleton(arch.structure), parameter_shapes(arch), forward, seed, input_size)
