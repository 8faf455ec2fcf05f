"""The EfficientNet family's calibrated random weights: zoocheck's one scheme
(``converters/weights/random.py``) with the family's canonical parameters and numpy forward, and
``branch_gain`` on the ``project_bn`` of each block with a residual connection (``draw_skeleton``
serves EfficientNetV2 too)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import calibrated
from zoocheck.families.efficientnet.canonical import Skeleton, forward, parameter_shapes, skeleton
from zoocheck.zoo_registry.types import Architecture


def draw_skeleton(arch: Architecture, net: Skeleton, shapes: dict, network_forward, seed: int, input_size: int) -> dict[str, np.ndarray]:
    """``calibrated`` weights of ``arch`` drawn as ``net``, with its canonical ``shapes`` and numpy forward.
    A residual block's last batch norm (``project_bn``, or ``fused_bn`` of a block of one conv)
    gets the branch gain."""
    residual = [f"{b.prefix}.{'project' if b.projects else 'fused'}_bn" for b in net.blocks if b.residual]
    return calibrated(arch, shapes, network_forward, seed, input_size, residual)


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    return draw_skeleton(arch, skeleton(arch.structure), parameter_shapes(arch), forward, seed, input_size)
