"""The tiny family's calibrated random weights: zoocheck's one scheme, no residual branches."""

from __future__ import annotations

from tiny_family.canonical import forward, parameter_shapes
from zoocheck.converters.weights.random import calibrated


def draw(arch, seed: int, input_size: int):
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size)
