"""Canonical weights, for every architecture family with them: one random-weights scheme
(random.py, drawn by the family), each framework's names (layouts.py, the family's renames) and
each source's on-disk format (formats.py, the writers living with their converters). A common
set of weights for an architecture is written in every source's own format and read back through
that source's own loader (``compare --random-weights``, the canonical graph's "same weights, same
file"). Importing this package imports no framework.
"""

from __future__ import annotations

import numpy as np

from zoocheck.converters.weights.formats import write_weights
from zoocheck.converters.weights.layouts import layer_modules, to_layout
from zoocheck.converters.weights.random import random_weights
from zoocheck.families.registry import family_of
from zoocheck.zoo_registry.types import Architecture


def _part(arch: Architecture, name: str):
    family = family_of(arch)
    if family is None:
        raise ValueError(f"{arch.id} belongs to no registered architecture family: no canonical weights")
    return family.part(name)


def has_canonical_weights(arch: Architecture) -> bool:
    """Whether ``arch``'s family draws canonical random weights (else a converter randomises the
    library's own network: ``torch_random.randomize``)."""
    family = family_of(arch)
    if family is None or family.random_weights is None:
        return False
    try:  # a variant the family's canonical parameters do not name yet (DenseNet's blur pool)
        family.part("parameters")(arch)
    except ValueError:
        return False
    return True


def parameter_shapes(arch: Architecture) -> dict[str, tuple[int, ...]]:
    """Every canonical parameter of ``arch`` and its shape, in network order (the family's)."""
    return _part(arch, "parameters")(arch)


def forward(arch: Architecture, params: dict[str, np.ndarray], x: np.ndarray, **options) -> np.ndarray:
    """``arch``'s logits for NCHW ``x`` from canonical ``params``: the family's numpy reference
    forward (float64 unless ``dtype`` says otherwise)."""
    return _part(arch, "forward")(arch, params, x, **options)


__all__ = ["forward", "has_canonical_weights", "layer_modules", "parameter_shapes", "random_weights", "to_layout", "write_weights"]
