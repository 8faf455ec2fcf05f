"""The ResNet family's calibrated random weights: zoocheck's one scheme
(``converters/weights/random.py``) with the family's canonical parameters and numpy forward, and
``branch_gain`` on the last batch norm of each residual branch (v2's branches end in a
convolution: none there)."""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.random import calibrated
from zoocheck.families.resnet.canonical import blocks, branch_units, forward, parameter_shapes
from zoocheck.zoo_registry.types import Architecture


def draw(arch: Architecture, seed: int, input_size: int) -> dict[str, np.ndarray]:
    spec = arch.structure
    last = (
        []
        if spec.preact
        else [f"{prefix}.bn{branch_units(spec, stage, cin, stride)[-1][0]}" for stage, _, prefix, cin, stride in blocks(spec)]
    )
    return calibrated(arch, parameter_shapes(arch), forward, seed, input_size, last)
