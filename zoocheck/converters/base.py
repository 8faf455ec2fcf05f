"""The one small interface every framework converter implements.

A converter loads a checkpoint in its source's own on-disk format into the source framework, runs
that framework's forward, and exports ONNX with the source's own exporter. Everything after the raw
export (names, dynamic batch, metadata, checker, atomic write) is shared: ``normalize.py``.
"""

from __future__ import annotations

import abc
from pathlib import Path

import numpy as np

from zoocheck.zoo_registry.types import Entry


class FrameworkUnavailable(RuntimeError):
    """The framework a source needs cannot be imported; the message says why and how to fix it."""


class WeightsError(ValueError):
    """A weights file that cannot be used: wrong format, missing keys, wrong shapes."""


class NativeModel(abc.ABC):
    """A model loaded into its source framework, ready to run and to export."""

    #: e.g. {"torch": "2.14.1", "torchvision": "0.29.1"}; written into the ONNX metadata.
    versions: dict[str, str]
    #: True when the native graph ends in softmax (some PaddleClas inference models).
    outputs_probabilities: bool = False

    @abc.abstractmethod
    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Run the framework's own forward on a float32 NCHW batch; returns [N, num_classes]."""

    @abc.abstractmethod
    def export_onnx(self, path: Path, opset: int) -> None:
        """Write a raw ONNX file with the source's own exporter (normalised afterwards)."""


class Converter(abc.ABC):
    #: the registry source names this converter serves
    sources: tuple[str, ...]
    #: the pip extra that installs its framework: ``pip install zoocheck[<extra>]``
    extra: str

    @abc.abstractmethod
    def check_available(self) -> None:
        """Import the framework; raise FrameworkUnavailable with the reason and the fix."""

    @abc.abstractmethod
    def load(self, entry: Entry, weights: Path | None, *, random_seed: int | None = None) -> NativeModel:
        """Build ``entry``'s architecture and load ``weights`` (a file or directory in the source's
        own format). ``weights=None`` is only allowed with ``random_seed``: seeded random weights
        with perturbed batch-norm statistics. Raises WeightsError for unusable weights."""

    def resolve(self, name: str) -> Entry | None:
        """An entry for a model the registry does not list but the framework knows by ``name``
        (any timm / torchvision classifier); None when the framework does not know it either."""
        return None
