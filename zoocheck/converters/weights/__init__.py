"""Canonical weights for the ResNet family: one naming (canonical.py, timm's names extended), one
random-weights scheme (random.py), each source's parameter names (layouts.py) and one writer per
on-disk format (formats.py). A common set of weights for an architecture is written in every
source's own format and read back through that source's own loader (``compare --random-weights``,
the canonical graph's "same weights, same file"). Importing this package imports no framework.
"""

from zoocheck.converters.weights.canonical import forward, parameter_shapes
from zoocheck.converters.weights.formats import write_weights
from zoocheck.converters.weights.random import random_weights

__all__ = ["forward", "parameter_shapes", "random_weights", "write_weights"]
